package signature

// bodyRows are family D: an HMAC of the body alone. Each row cites the
// source its rules were checked against.
var bodyRows = []hmacRow{
	// GitHub docs and go-github: "sha256=<hex>"; X-GitHub-Delivery is
	// unsigned, so there is no ID.
	{name: "github", header: "X-Hub-Signature-256", prefix: "sha256=", enc: encHex,
		source: "docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries; go-github"},
	// Shopify docs: canonical base64; the webhook and event ID headers are
	// unsigned.
	{name: "shopify", header: "X-Shopify-Hmac-Sha256", enc: encBase64,
		source: "shopify.dev/docs/apps/build/webhooks/verify-deliveries"},
	// Gately (design.md): "sha256=<hex>", ID is the body's "id".
	{name: "gately", header: "X-Gately-Signature", prefix: "sha256=", enc: encHex, idField: "id", source: "design.md"},
}
