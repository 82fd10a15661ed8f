package signature

import "time"

// pairsRows are family B: the timestamp inside the signature header. Each
// row cites the source its rules were checked against.
var pairsRows = []pairsRow{
	// stripe-go webhook: "t=<s>,v1=<hex>[,v1=…]" over "{t}.{body}"; the whole
	// "whsec_…" string is the key; only v1 counts; DefaultTolerance 300 s.
	{name: "stripe", header: "Stripe-Signature", tsKey: "t", tag: "v1", sep: ",", unit: tsSeconds,
		content: "{timestamp}.{body}", enc: encHex, idField: "id", tolerance: 5 * time.Minute,
		source: "docs.stripe.com/webhooks#verify-manually; stripe-go webhook/client.go"},
	// Paddle Billing docs and paddle-go-sdk: "ts=<s>;h1=<hex>" over
	// "{ts}:{body}", lowercase hex, several h1 during rotation. The Go SDK
	// sets no tolerance (the Node helper's 5 s is not adopted).
	{name: "paddle", header: "Paddle-Signature", tsKey: "ts", tag: "h1", sep: ";", unit: tsSeconds,
		content: "{timestamp}:{body}", enc: encHexLower, idField: "event_id",
		source: "developer.paddle.com/webhooks/signature-verification; paddle-go-sdk/v4"},
	// Calendly: "t=<s>,v1=<hex>" over "{t}.{body}", 3 minutes.
	{name: "calendly", header: "Calendly-Webhook-Signature", tsKey: "t", tag: "v1", sep: ",", unit: tsSeconds,
		content: "{timestamp}.{body}", enc: encHex, tolerance: 3 * time.Minute,
		source: "developer.calendly.com/api-docs webhook signatures"},
	// WorkOS: "t=<ms>, v1=<hex>" (a space after the comma) over "{t}.{body}";
	// its SDKs default to 180 s.
	{name: "workos", header: "WorkOS-Signature", tsKey: "t", tag: "v1", sep: ", ", unit: tsMillis,
		content: "{timestamp}.{body}", enc: encHex, idField: "id", tolerance: 3 * time.Minute,
		source: "workos.com/docs/events/data-syncing/webhooks; workos-go pkg/webhooks/client.go"},
	// Mux: "t=<s>,v1=<hex>" over "{t}.{body}", 300 s in its SDKs.
	{name: "mux", header: "Mux-Signature", tsKey: "t", tag: "v1", sep: ",", unit: tsSeconds,
		content: "{timestamp}.{body}", enc: encHex, idField: "id", tolerance: 5 * time.Minute,
		source: "docs.mux.com/core/verify-webhook-signatures"},
	// Inngest: "t=<s>&s=<hex>" over "{body}{t}", the key is the signing key
	// after "signkey-<env>-", as ASCII; 5 minutes (signatureTimeDeltaMax).
	{name: "inngest", header: "X-Inngest-Signature", tsKey: "t", tag: "s", sep: "&", unit: tsSeconds,
		content: "{body}{timestamp}", enc: encHex, key: keyInngest, tolerance: 5 * time.Minute,
		source: "inngest.com/docs/platform/signing-keys; inngestgo signature.go"},
	// Knock: "t=<ms>,s=<base64>" over "{t}.{body}", milliseconds.
	{name: "knock", header: "x-knock-signature", tsKey: "t", tag: "s", sep: ",", unit: tsMillis,
		content: "{timestamp}.{body}", enc: encBase64, idField: "id", tolerance: 5 * time.Minute,
		source: "docs.knock.app/developer-tools/outbound-webhooks"},
	// Recurly: "<ms>,<hex>[,<hex>]" over "{ts}.{body}", JSON notifications.
	{name: "recurly", header: "recurly-signature", leading: true, sep: ",", unit: tsMillis,
		content: "{timestamp}.{body}", enc: encHex, idField: "id",
		source: "docs.recurly.com/recurly-subscriptions/docs/signature-verification"},
	// Persona: "t=<s>,v1=<hex>" over "{t}.{body}" (one pair; the
	// space-separated pairs of a rotation are not read).
	{name: "persona", header: "Persona-Signature", tsKey: "t", tag: "v1", sep: ",", unit: tsSeconds,
		content: "{timestamp}.{body}", enc: encHex, idField: "data.id",
		source: "docs.withpersona.com/docs/best-practices (Checking Signatures)"},
	// ElevenLabs: "t=<s>,v0=<hex>" over "{t}.{body}"; its example accepts
	// 30 minutes.
	{name: "elevenlabs", header: "ElevenLabs-Signature", tsKey: "t", tag: "v0", sep: ",", unit: tsSeconds,
		content: "{timestamp}.{body}", enc: encHex, tolerance: 30 * time.Minute,
		source: "elevenlabs.io/docs/agents-platform/workflows/post-call-webhooks"},
	// Retell AI: "v=<ms>,d=<hex>" over "{body}{ts}", keyed with the API key
	// that has the webhook badge; its SDKs accept 5 minutes.
	{name: "retell", header: "x-retell-signature", tsKey: "v", tag: "d", sep: ",", unit: tsMillis,
		content: "{body}{timestamp}", enc: encHex, tolerance: 5 * time.Minute,
		source: "docs.retellai.com/features/secure-webhook"},
	// Sanity (@sanity/webhook): "t=<ms>,v1=<base64url>" over "{t}.{body}",
	// unpadded URL-safe base64.
	{name: "sanity", header: "sanity-webhook-signature", tsKey: "t", tag: "v1", sep: ",", unit: tsMillis,
		content: "{timestamp}.{body}", enc: encBase64URL,
		source: "sanity.io/docs/webhooks; github.com/sanity-io/webhook-toolkit"},
}
