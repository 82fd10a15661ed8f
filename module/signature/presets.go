package signature

import "sort"

// presets are the provider schemes, keyed by name. The comment on each
// entry names the source its rules were checked against.
var presets = map[string]Scheme{
	// Standard Webhooks spec and libraries/go: "{id}.{ts}.{body}", HMAC-SHA256,
	// canonical base64, space-separated "v1,<sig>" list, key = base64 after
	// "whsec_", webhook-id is signed.
	"standard": standardWebhooks("standard", "webhook-"),
	// Svix is Standard Webhooks under svix-* headers (svix-webhooks/go).
	"svix": standardWebhooks("svix", "svix-"),
	// stripe-go webhook: "t=<s>,v1=<hex>[,v1=…]" over "{t}.{body}"; the whole
	// "whsec_…" string is the key; only v1 counts; ID is the body's "id".
	"stripe": {
		sigHeader: "Stripe-Signature",
		idField:   []string{"id"},
		layout:    layout{format: fmtPairs, tsKey: "t", tag: "v1", sep: ","},
		content:   mustTemplate("{timestamp}.{body}"),
		enc:       encHex,
		unit:      tsSeconds,
	},
	// GitHub docs and go-github: "sha256=<hex>" over the body; the delivery
	// ID header is unsigned, so there is no ID.
	"github": {
		sigHeader: "X-Hub-Signature-256",
		layout:    layout{prefix: "sha256="},
		content:   mustTemplate("{body}"),
		enc:       encHex,
	},
	// GitLab docs: X-Gitlab-Token carries the secret token itself.
	"gitlab": {
		sigHeader: "X-Gitlab-Token",
		alg:       algToken,
	},
	// Slack docs and slack-go: "v0=<hex>" over "v0:{ts}:{body}".
	"slack": {
		sigHeader: "X-Slack-Signature",
		tsHeader:  "X-Slack-Request-Timestamp",
		layout:    layout{prefix: "v0="},
		content:   mustTemplate("v0:{timestamp}:{body}"),
		enc:       encHex,
		unit:      tsSeconds,
	},
	// Shopify docs: canonical base64 HMAC-SHA256 of the body; the webhook
	// and event ID headers are unsigned.
	"shopify": {
		sigHeader: "X-Shopify-Hmac-Sha256",
		content:   mustTemplate("{body}"),
		enc:       encBase64,
	},
	// Paddle Billing docs and paddle-go-sdk: "ts=<s>;h1=<hex>" over
	// "{ts}:{body}", lowercase hex; several h1 allowed during rotation; ID is
	// the body's "event_id".
	"paddle": {
		sigHeader: "Paddle-Signature",
		idField:   []string{"event_id"},
		layout:    layout{format: fmtPairs, tsKey: "ts", tag: "h1", sep: ";"},
		content:   mustTemplate("{timestamp}:{body}"),
		enc:       encHexLower,
		unit:      tsSeconds,
	},
	// Twilio docs and twilio-go RequestValidator: HMAC-SHA1, canonical
	// base64, over the URL plus sorted form parameters (see twilio.go).
	"twilio": {
		sigHeader: "X-Twilio-Signature",
		alg:       algSHA1,
		enc:       encBase64,
		twilio:    true,
	},
	// Discord docs: Ed25519 over "{ts}{body}", hex signature, the secret is
	// the application's hex public key; ID is the interaction's "id".
	"discord": {
		sigHeader: "X-Signature-Ed25519",
		tsHeader:  "X-Signature-Timestamp",
		idField:   []string{"id"},
		content:   mustTemplate("{timestamp}{body}"),
		alg:       algEd25519,
		enc:       encHex,
		keyEnc:    keyHex,
		unit:      tsSeconds,
	},
	// Foil (design.md): hex over "{ts}.{body}", raw key, ID is the signed
	// body's "id"; X-Foil-Event repeats it unsigned and is only written.
	"foil": {
		sigHeader:   "X-Foil-Signature",
		tsHeader:    "X-Foil-Timestamp",
		eventHeader: "X-Foil-Event",
		idField:     []string{"id"},
		content:     mustTemplate("{timestamp}.{body}"),
		enc:         encHex,
		unit:        tsSeconds,
	},
	// Enforgate (design.md): hex over "{ts}.{body}", timestamp in
	// milliseconds, no ID.
	"enforgate": {
		sigHeader: "x-enforgate-signature",
		tsHeader:  "x-enforgate-timestamp",
		content:   mustTemplate("{timestamp}.{body}"),
		enc:       encHex,
		unit:      tsMillis,
	},
	// Gately (design.md): "sha256=<hex>" over the body, ID is the body's "id".
	"gately": {
		sigHeader: "X-Gately-Signature",
		idField:   []string{"id"},
		layout:    layout{prefix: "sha256="},
		content:   mustTemplate("{body}"),
		enc:       encHex,
	},
}

// standardWebhooks builds the Standard Webhooks scheme under a header
// prefix.
func standardWebhooks(name, prefix string) Scheme {
	return Scheme{
		Name:      name,
		sigHeader: prefix + "signature",
		tsHeader:  prefix + "timestamp",
		idHeader:  prefix + "id",
		layout:    layout{format: fmtList, tag: "v1"},
		content:   mustTemplate("{id}.{timestamp}.{body}"),
		enc:       encBase64,
		keyEnc:    keyBase64,
		unit:      tsSeconds,
	}
}

// Lookup returns a fresh copy of the named preset, so that changing it
// cannot affect other users.
func Lookup(name string) (*Scheme, bool) {
	p, ok := presets[name]
	if !ok {
		return nil, false
	}
	p.Name = name
	return &p, true
}

// Names returns the preset names, sorted. The generic "hmac" scheme is not
// a preset: build it with NewHMAC.
func Names() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
