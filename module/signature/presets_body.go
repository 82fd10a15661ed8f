package signature

import "time"

// bodyRows are family D: an HMAC of the body alone. Each row cites the
// source its rules were checked against. An ID header these providers send
// (a delivery ID) is unsigned, so it is never the dedupe key.
var bodyRows = []hmacRow{
	// GitHub docs and go-github: "sha256=<hex>".
	{name: "github", header: "X-Hub-Signature-256", prefix: "sha256=", enc: encHex,
		source: "docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries; go-github"},
	// Shopify docs: canonical base64.
	{name: "shopify", header: "X-Shopify-Hmac-Sha256", enc: encBase64,
		source: "shopify.dev/docs/apps/build/webhooks/verify-deliveries"},
	// Gately (design.md): "sha256=<hex>", ID is the body's "id".
	{name: "gately", header: "X-Gately-Signature", prefix: "sha256=", enc: encHex, idField: "id", source: "design.md"},
	// Gitea and Forgejo: bare hex.
	{name: "gitea", header: "X-Gitea-Signature", enc: encHex, source: "docs.gitea.com/usage/webhooks"},
	// Bitbucket Cloud: "sha256=<hex>" in X-Hub-Signature (no -256).
	{name: "bitbucket", header: "X-Hub-Signature", prefix: "sha256=", enc: encHex,
		source: "bitbucket.org/blog/enhanced-webhook-security"},
	// Meta (Facebook, Instagram, WhatsApp): "sha256=<hex>" with the app secret.
	{name: "meta", header: "X-Hub-Signature-256", prefix: "sha256=", enc: encHex,
		source: "developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads"},
	// Intercom: "sha1=<hex>", HMAC-SHA1 with the client secret.
	{name: "intercom", header: "X-Hub-Signature", prefix: "sha1=", alg: algSHA1, enc: encHex, idField: "id",
		source: "developers.intercom.com/docs/webhooks"},
	// Notion: "sha256=<hex>" with the verification token.
	{name: "notion", header: "X-Notion-Signature", prefix: "sha256=", enc: encHex, idField: "id",
		source: "developers.notion.com/reference/webhooks"},
	// Mollie next-gen webhooks: "sha256=<hex>".
	{name: "mollie", header: "X-Mollie-Signature", prefix: "sha256=", enc: encHex, idField: "id",
		source: "docs.mollie.com/reference/webhooks-new"},
	// Typeform: "sha256=<base64>".
	{name: "typeform", header: "Typeform-Signature", prefix: "sha256=", enc: encBase64, idField: "event_id",
		source: "typeform.com/developers/webhooks/secure-your-webhooks"},
	// X (Twitter) Account Activity: "sha256=<base64>" with the consumer secret.
	{name: "twitter", header: "x-twitter-webhooks-signature", prefix: "sha256=", enc: encBase64,
		source: "developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks"},
	// PagerDuty v3 and go-pagerduty webhookv3: "v1=<hex>[,v1=<hex>]".
	{name: "pagerduty", header: "X-PagerDuty-Signature", prefix: "v1=", multi: ",", enc: encHex, idField: "event.id",
		source: "developer.pagerduty.com/docs/webhooks/webhook-signatures; go-pagerduty webhookv3"},
	// CircleCI: "v1=<hex>[,…]".
	{name: "circleci", header: "circleci-signature", prefix: "v1=", multi: ",", enc: encHex, idField: "id",
		source: "circleci.com/docs/outbound-webhooks"},
	// WooCommerce: base64; X-WC-Webhook-Delivery-ID is unsigned.
	{name: "woocommerce", header: "X-WC-Webhook-Signature", enc: encBase64,
		source: "woocommerce.github.io/woocommerce-rest-api-docs/#webhooks"},
	// DocuSign Connect: base64 in X-DocuSign-Signature-1, -2, … one per
	// active HMAC key (the first five are read).
	{name: "docusign", header: "X-DocuSign-Signature-1", enc: encBase64,
		altHeaders: []string{"X-DocuSign-Signature-2", "X-DocuSign-Signature-3", "X-DocuSign-Signature-4", "X-DocuSign-Signature-5"},
		source:     "developers.docusign.com/platform/webhooks/connect/hmac"},
	// LINE Messaging API and line-bot-sdk-go webhook.ValidateSignature: base64.
	{name: "line", header: "x-line-signature", enc: encBase64,
		source: "developers.line.biz/en/reference/messaging-api/#signature-validation; line-bot-sdk-go/v8"},
	// Linear: hex; the signed body's webhookTimestamp (ms) must be within
	// 60 s; Linear-Delivery is unsigned.
	{name: "linear", header: "Linear-Signature", enc: encHex, tsField: "webhookTimestamp", unit: tsMillis, tolerance: time.Minute,
		source: "linear.app/developers/webhooks"},
	// Sentry integration platform: hex; Request-ID is unsigned.
	{name: "sentry", header: "Sentry-Hook-Signature", enc: encHex,
		source: "docs.sentry.io/organization/integrations/integration-platform/webhooks"},
	// Vercel: hex HMAC-SHA1.
	{name: "vercel", header: "x-vercel-signature", alg: algSHA1, enc: encHex, idField: "id",
		source: "vercel.com/docs/webhooks/webhooks-api#securing-webhooks"},
	// Razorpay and razorpay-go utils.VerifyWebhookSignature: hex;
	// x-razorpay-event-id is unsigned.
	{name: "razorpay", header: "X-Razorpay-Signature", enc: encHex,
		source: "razorpay.com/docs/webhooks/validate-test; razorpay-go utils"},
	// Lemon Squeezy: hex in X-Signature.
	{name: "lemonsqueezy", header: "X-Signature", enc: encHex,
		source: "docs.lemonsqueezy.com/help/webhooks/signing-requests"},
	// Alchemy Notify: hex.
	{name: "alchemy", header: "X-Alchemy-Signature", enc: encHex, idField: "id",
		source: "docs.alchemy.com/reference/notify-api-quickstart#webhook-signature--security"},
	// Cal.com: hex, no prefix.
	{name: "calcom", header: "X-Cal-Signature-256", enc: encHex,
		source: "cal.com/docs/developing/guides/automation/webhooks#verifying-the-authenticity"},
	// Adyen platform webhooks: base64 in HmacSignature, the HMAC key
	// hex-decoded.
	{name: "adyen", header: "HmacSignature", enc: encBase64, key: keyHex,
		source: "docs.adyen.com/development-resources/webhooks/verify-hmac-signatures"},
	// Dropbox: hex HMAC-SHA256 with the app secret; notifications carry no
	// event ID.
	{name: "dropbox", header: "X-Dropbox-Signature", enc: encHex,
		source: "dropbox.com/developers/reference/webhooks"},
	// Nylas v3: hex with the webhook_secret returned at creation.
	{name: "nylas", header: "X-Nylas-Signature", enc: encHex, idField: "id",
		source: "developer.nylas.com/docs/v3/notifications/webhooks"},
	// GoCardless: hex in Webhook-Signature with the endpoint secret; a
	// delivery batches events, so there is no one ID.
	{name: "gocardless", header: "Webhook-Signature", enc: encHex,
		source: "developer.gocardless.com/getting-started/staying-up-to-date-with-webhooks"},
	// Xero: base64 with the webhook key; a bad signature must get 401.
	{name: "xero", header: "x-xero-signature", enc: encBase64,
		source: "developer.xero.com/documentation/guides/webhooks/configuring-your-server"},
	// Coinbase Commerce: hex HMAC-SHA256 of the raw body with the shared
	// secret.
	{name: "coinbase-commerce", header: "X-CC-Webhook-Signature", enc: encHex,
		source: "docs.cdp.coinbase.com/commerce/api-arcitecture/webhooks-security"},
	// Dub: hex HMAC-SHA256 of the raw body.
	{name: "dub", header: "Dub-Signature", enc: encHex, idField: "id",
		source: "dub.co/docs/concepts/webhooks/verify-webhook-requests"},
	// Tally: base64 HMAC-SHA256 of the raw body, when a signing secret is set.
	{name: "tally", header: "Tally-Signature", enc: encBase64, idField: "eventId",
		source: "tally.so/help/webhooks"},
	// Asana: hex in X-Hook-Signature, keyed with the X-Hook-Secret of the
	// handshake.
	{name: "asana", header: "X-Hook-Signature", enc: encHex,
		source: "developers.asana.com/docs/webhooks-guide; developers.asana.com/reference/createwebhook"},
	// Airtable: "hmac-sha256=<hex>", keyed with the base64-decoded
	// macSecretBase64 of the create-webhook response.
	{name: "airtable", header: "X-Airtable-Content-MAC", prefix: "hmac-sha256=", enc: encHex, key: keyBase64,
		source: "airtable.com/developers/web/api/webhooks-overview"},
	// Segment Webhooks (Actions) destination: hex HMAC-SHA1 with the shared
	// secret.
	{name: "segment", header: "X-Signature", alg: algSHA1, enc: encHex, idField: "messageId",
		source: "twilio.com/docs/segment/connections/destinations/catalog/actions-webhook"},
	// Onfido (Entrust): hex HMAC-SHA256 in X-SHA2-Signature with the
	// webhook token.
	{name: "onfido", header: "X-SHA2-Signature", enc: encHex,
		source: "documentation.identity.entrust.com/api/manual-webhook-signature-verification"},
	// Jira Cloud admin and dynamic webhooks with a secret: "sha256=<hex>"
	// in X-Hub-Signature (WebSub).
	{name: "jira", header: "X-Hub-Signature", prefix: "sha256=", enc: encHex,
		source: "developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks"},
	// Checkout.com workflows: hex (Base16) HMAC-SHA256 of the raw body in
	// Cko-Signature, keyed with the webhook action's key.
	{name: "checkout", header: "Cko-Signature", enc: encHex, idField: "id",
		source: "checkout.com/docs/developer-resources/webhooks/manage-webhooks/set-up-your-webhook-receiver"},
	// Bland AI: hex HMAC-SHA256 of the body in X-Webhook-Signature.
	{name: "bland", header: "X-Webhook-Signature", enc: encHex, idField: "call_id",
		source: "docs.bland.ai/tutorials/webhook-signing"},
	// Checkr: hex HMAC-SHA256 of the raw body keyed with the API key, in
	// X-Checkr-Signature; the signed event's "id" is the ID.
	{name: "checkr", header: "X-Checkr-Signature", enc: encHex, idField: "id",
		source: "github.com/checkr/webhook-verification-examples; docs.checkr.com/apis/webhooks"},
	// Gusto Embedded: HMAC-SHA256 of the event payload keyed with the
	// subscription's verification_token, in X-Gusto-Signature; the signed
	// event's "uuid" is the ID.
	{name: "gusto", header: "X-Gusto-Signature", enc: encHex, idField: "uuid",
		source: "docs.gusto.com/app-integrations/docs/webhooks (Verifying event integrity)"},
	// Doppler: "sha256=<hex>" HMAC-SHA256 of the body with the webhook's
	// optional signing secret; a secrets-change notice carries no ID.
	{name: "doppler", header: "X-Doppler-Signature", prefix: "sha256=", enc: encHex,
		source: "docs.doppler.com/docs/webhooks (Verify Webhook With Request Signing)"},
}
