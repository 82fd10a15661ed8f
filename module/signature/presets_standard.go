package signature

// standardRows are family A: Standard Webhooks and the providers that send
// it under their own header prefix or key format. Each row cites the source
// its rules were checked against.
var standardRows = []standardRow{
	// Standard Webhooks spec and libraries/go: key = base64 after "whsec_".
	{name: "standard", prefix: "webhook-", key: keyBase64, source: "github.com/standard-webhooks/standard-webhooks spec/standard-webhooks.md; libraries/go"},
	// Svix is Standard Webhooks under svix-* headers (svix-webhooks/go).
	{name: "svix", prefix: "svix-", key: keyBase64, source: "docs.svix.com/receiving/verifying-payloads/how-manual; svix-webhooks/go"},
}
