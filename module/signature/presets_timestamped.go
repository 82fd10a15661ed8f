package signature

import "time"

// timestampedRows are family C: a separate timestamp signed with the body.
// Each row cites the source its rules were checked against.
var timestampedRows = []hmacRow{
	// Slack docs and slack-go SecretsVerifier: "v0=<hex>" over
	// "v0:{ts}:{body}", 5 minutes.
	{name: "slack", header: "X-Slack-Signature", prefix: "v0=", tsHeader: "X-Slack-Request-Timestamp", unit: tsSeconds,
		content: "v0:{timestamp}:{body}", enc: encHex, tolerance: 5 * time.Minute,
		source: "api.slack.com/authentication/verifying-requests-from-slack; slack-go"},
	// Discord docs: Ed25519 over "{ts}{body}", hex signature, the secret is
	// the application's hex public key; ID is the interaction's "id".
	{name: "discord", header: "X-Signature-Ed25519", tsHeader: "X-Signature-Timestamp", unit: tsSeconds,
		content: "{timestamp}{body}", alg: algEd25519, enc: encHex, key: keyHex, idField: "id",
		source: "discord.com/developers/docs/interactions/overview#setting-up-an-endpoint; discordgo"},
	// Foil (design.md): hex over "{ts}.{body}", raw key, ID is the signed
	// body's "id"; X-Foil-Event repeats it unsigned and is only written.
	{name: "foil", header: "X-Foil-Signature", tsHeader: "X-Foil-Timestamp", eventHeader: "X-Foil-Event", unit: tsSeconds,
		content: "{timestamp}.{body}", enc: encHex, idField: "id", source: "design.md"},
	// Enforgate (design.md): hex over "{ts}.{body}", milliseconds, no ID.
	{name: "enforgate", header: "x-enforgate-signature", tsHeader: "x-enforgate-timestamp", unit: tsMillis,
		content: "{timestamp}.{body}", enc: encHex, source: "design.md"},
	// Zoom: "v0=<hex>" over "v0:{ts}:{body}"; no window documented.
	{name: "zoom", header: "x-zm-signature", prefix: "v0=", tsHeader: "x-zm-request-timestamp", unit: tsSeconds,
		content: "v0:{timestamp}:{body}", enc: encHex,
		source: "developers.zoom.us/docs/api/webhooks/#verify-webhook-events"},
	// Webflow: hex over "{ts}:{body}", milliseconds, 5 minutes.
	{name: "webflow", header: "x-webflow-signature", tsHeader: "x-webflow-timestamp", unit: tsMillis,
		content: "{timestamp}:{body}", enc: encHex, tolerance: 5 * time.Minute,
		source: "developers.webflow.com/data/docs/working-with-webhooks#validating-request-signatures"},
	// Zendesk: base64 over "{ts}{body}", ISO 8601 timestamp, the secret used
	// verbatim although it looks like base64.
	{name: "zendesk", header: "X-Zendesk-Webhook-Signature", tsHeader: "X-Zendesk-Webhook-Signature-Timestamp", unit: tsRFC3339,
		content: "{timestamp}{body}", enc: encBase64,
		source: "developer.zendesk.com/documentation/webhooks/verifying"},
	// Box: base64 over "{body}{ts}" in PRIMARY and SECONDARY (one per key),
	// ISO 8601 timestamp, 10 minutes; BOX-DELIVERY-ID is unsigned.
	{name: "box", header: "BOX-SIGNATURE-PRIMARY", altHeaders: []string{"BOX-SIGNATURE-SECONDARY"}, tsHeader: "BOX-DELIVERY-TIMESTAMP",
		unit: tsRFC3339, content: "{body}{timestamp}", enc: encBase64, idField: "id", tolerance: 10 * time.Minute,
		source: "developer.box.com/guides/webhooks/v2/signatures-v2"},
	// Twitch EventSub: "sha256=<hex>" over "{id}{ts}{body}" with the signed
	// message ID, RFC 3339 timestamp, 10 minutes.
	{name: "twitch", header: "Twitch-Eventsub-Message-Signature", prefix: "sha256=", tsHeader: "Twitch-Eventsub-Message-Timestamp",
		idHeader: "Twitch-Eventsub-Message-Id", unit: tsRFC3339, content: "{id}{timestamp}{body}", enc: encHex, tolerance: 10 * time.Minute,
		source: "dev.twitch.tv/docs/eventsub/handling-webhook-events"},
	// Mailgun and mailgun-go VerifyWebhookSignature: hex over
	// "{timestamp}{token}" from the body's signature object (form posts:
	// top-level fields). The event data is not signed; the signed token is
	// the dedupe key, as Mailgun advises.
	{name: "mailgun", sigField: "signature.signature", tsField: "signature.timestamp", idField: "signature.token", unit: tsSeconds,
		content: "{timestamp}{id}", enc: encHex,
		source: "documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks; mailgun-go/v4"},
	// Cloudinary: hex SHA-1 (not HMAC) of "{body}{ts}{api_secret}"; its SDKs
	// accept 2 hours by default.
	{name: "cloudinary", header: "X-Cld-Signature", tsHeader: "X-Cld-Timestamp", unit: tsSeconds,
		content: "{body}{timestamp}", alg: algPlainSHA1, enc: encHex, tolerance: 2 * time.Hour,
		source: "cloudinary.com/documentation/notification_signatures"},
	// HubSpot v3: base64 over "{METHOD}{URI}{body}{ts}", the URI being the
	// requested URL with HubSpot's list of escapes decoded; milliseconds, 5
	// minutes. The body is an array of events, so the dedupe key is the
	// signature's hash.
	{name: "hubspot", header: "X-HubSpot-Signature-v3", tsHeader: "X-HubSpot-Request-Timestamp", unit: tsMillis,
		content: "{method}{url}{body}{timestamp}", url: urlHubSpot, enc: encBase64, tolerance: 5 * time.Minute,
		source: "developers.hubspot.com/docs/api/webhooks/validating-requests"},
	// Customer.io reporting webhooks: hex over "v0:{ts}:{body}" with the
	// signing key, X-CIO-Timestamp in seconds.
	{name: "customerio", header: "X-CIO-Signature", tsHeader: "X-CIO-Timestamp", unit: tsSeconds,
		content: "v0:{timestamp}:{body}", enc: encHex, idField: "event_id",
		source: "docs.customer.io/api/webhooks (Securing webhooks)"},
	// Frame.io (V4 and legacy): "v0=<hex>" over "v0:{ts}:{body}" with the
	// webhook's signing secret, X-Frameio-Request-Timestamp in seconds, 5
	// minutes recommended. resource.id names the resource, not the delivery,
	// so the dedupe key is the signature's hash.
	{name: "frameio", header: "X-Frameio-Signature", prefix: "v0=", tsHeader: "X-Frameio-Request-Timestamp", unit: tsSeconds,
		content: "v0:{timestamp}:{body}", enc: encHex, tolerance: 5 * time.Minute,
		source: "AdobeDocs/frameio-api src/pages/guides/Webhooks (Verifying Webhook Signatures)"},
	// Orb (orb-python webhooks.verify_signature and its test): "v1=<hex>"
	// entries, space-separated, over "v1:{ts}:{body}" with the secret's
	// UTF-8 bytes; X-Orb-Timestamp is ISO 8601, UTC when it has no zone; 5
	// minutes either way. ID is the signed body's "id".
	{name: "orb", header: "X-Orb-Signature", prefix: "v1=", multi: " ", tsHeader: "X-Orb-Timestamp", unit: tsISOUTC,
		content: "v1:{timestamp}:{body}", enc: encHex, idField: "id", tolerance: 5 * time.Minute,
		source: "orbcorp/orb-python src/orb/resources/webhooks.py; tests/api_resources/test_webhooks.py"},
}
