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
}
