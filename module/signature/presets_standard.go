package signature

// standardRows are family A: Standard Webhooks and the providers that send
// it under their own header prefix or key format. Each row cites the source
// its rules were checked against.
var standardRows = []standardRow{
	// Standard Webhooks spec and libraries/go: key = base64 after "whsec_".
	{name: "standard", prefix: "webhook-", key: keyBase64, source: "github.com/standard-webhooks/standard-webhooks spec/standard-webhooks.md; libraries/go"},
	// Svix is Standard Webhooks under svix-* headers (svix-webhooks/go).
	{name: "svix", prefix: "svix-", key: keyBase64, source: "docs.svix.com/receiving/verifying-payloads/how-manual; svix-webhooks/go"},
	// Clerk delivers through Svix (clerk.com docs: verifyWebhook uses Svix).
	{name: "clerk", prefix: "svix-", key: keyBase64, source: "clerk.com/docs/webhooks/sync-data"},
	// Resend delivers through Svix; resend-go Webhooks.Verify.
	{name: "resend", prefix: "svix-", key: keyBase64, source: "resend.com/docs/webhooks/verify-webhooks-requests; resend-go/v3"},
	// OpenAI: Standard Webhooks headers; openai-go webhooks, 5 minutes.
	{name: "openai", prefix: "webhook-", key: keyBase64, source: "platform.openai.com/docs/guides/webhooks; openai-go/v3 webhooks"},
	// Replicate: Standard Webhooks headers, whsec_ secret.
	{name: "replicate", prefix: "webhook-", key: keyBase64, source: "replicate.com/docs/topics/webhooks/verify-webhook"},
	// Anthropic: Standard Webhooks headers; anthropic-sdk-go beta webhooks.
	{name: "anthropic", prefix: "webhook-", key: keyBase64, source: "platform.claude.com/docs/en/managed-agents/webhooks; anthropic-sdk-go"},
	// Brex: Webhook-Id/-Timestamp/-Signature, base64 secrets from
	// GET /v1/webhooks/secrets.
	{name: "brex", prefix: "Webhook-", key: keyBase64, source: "developer.brex.com/docs/webhooks"},
	// Loops: Standard Webhooks headers, whsec_ signing secret.
	{name: "loops", prefix: "webhook-", key: keyBase64, source: "loops.so/docs/webhooks"},
	// Supabase auth hooks: Standard Webhooks, secret shown as "v1,whsec_…".
	{name: "supabase", prefix: "webhook-", key: keyBase64V1, source: "supabase.com/docs/guides/auth/auth-hooks"},
	// Polar: Standard Webhooks; the secret's own bytes are the key (its SDK
	// base64-encodes the secret before handing it to the library).
	{name: "polar", prefix: "webhook-", key: keyRaw, source: "docs.polar.sh/integrate/webhooks/delivery"},
}
