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
}
