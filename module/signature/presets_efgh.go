package signature

import "time"

// The presets of families E to H beyond twilio and gitlab: the URL-signing,
// asymmetric, JWT and shared-token providers. Where a family fits the data
// path, its preset is an hmacRow; otherwise it is a Scheme with a custom
// hook from urlsig.go, asymmetric.go, jwt.go or token.go. Each cites the
// source its rules were checked against.

// dataRowsEFGH are the rows the generic path verifies, with their family.
var dataRowsEFGH = []struct {
	family byte
	row    hmacRow
}{
	// Square: base64 HMAC-SHA256 of the notification URL, exactly as
	// subscribed, followed by the body; ID is the signed "event_id".
	{'E', hmacRow{name: "square", header: "x-square-hmacsha256-signature", content: "{url}{body}",
		enc: encBase64, idField: "event_id",
		source: "developer.squareup.com/docs/webhooks/step3validate"}},
	// Trello: base64 HMAC-SHA1 of the body followed by the callbackURL as
	// given at creation, keyed with the app secret; ID is "action.id".
	{'E', hmacRow{name: "trello", header: "X-Trello-Webhook", content: "{body}{url}", alg: algSHA1,
		enc: encBase64, idField: "action.id",
		source: "developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/#webhook-signatures"}},
	// Telnyx API v2: base64 Ed25519 over "{ts}|{body}" with the account's
	// base64 public key; the SDKs allow 5 minutes; ID is "data.id".
	{'F', hmacRow{name: "telnyx", header: "telnyx-signature-ed25519", tsHeader: "telnyx-timestamp", unit: tsSeconds,
		content: "{timestamp}|{body}", alg: algEd25519, enc: encBase64, key: keyBase64, idField: "data.id",
		tolerance: 5 * time.Minute,
		source:    "developers.telnyx.com/docs/development/sdk/python/webhooks; telnyx-python webhook_verification"}},
	// Telegram Bot API setWebhook: the secret_token, 1-256 characters of
	// [A-Za-z0-9_-], sent as X-Telegram-Bot-Api-Secret-Token.
	{'H', hmacRow{name: "telegram", header: "X-Telegram-Bot-Api-Secret-Token", alg: algToken,
		source: "core.telegram.org/bots/api#setwebhook"}},
	// Cloudflare Notifications: the webhook destination's secret is sent
	// as cf-webhook-auth.
	{'H', hmacRow{name: "cloudflare", header: "cf-webhook-auth", alg: algToken,
		source: "developers.cloudflare.com/notifications/get-started/configure-webhooks; API schema aaa_secret"}},
	// Vapi: the server URL secret (an "X-Vapi-Secret" credential) sent as
	// X-Vapi-Secret.
	{'H', hmacRow{name: "vapi", header: "X-Vapi-Secret", alg: algToken,
		source: "docs.vapi.ai/server-url/server-authentication"}},
	// Auth0 custom webhook log streams: the configured Authorization Token
	// is sent as the Authorization header, verbatim (configure the secret
	// as the whole value, "Bearer …" included if you wrote one).
	{'H', hmacRow{name: "auth0", header: "Authorization", alg: algToken,
		source: "auth0.com/docs/customize/log-streams/custom-log-streams"}},
	// Okta event hooks: the Authentication secret is sent in the
	// Authentication field's header; this preset expects the field to be
	// Authorization, as Okta's examples use.
	{'H', hmacRow{name: "okta", header: "Authorization", alg: algToken,
		source: "help.okta.com/en-us/Content/Topics/automation-hooks/add-event-hooks.htm; developer.okta.com/docs/concepts/event-hooks"}},
	// Helius: the authHeader set on the webhook is echoed verbatim as the
	// Authorization header of every delivery; the body is not signed.
	{'H', hmacRow{name: "helius", header: "Authorization", alg: algToken,
		source: "helius.dev/docs/faqs/webhooks (How can I verify that the webhook came from Helius?)"}},
}

func init() {
	for _, r := range dataRowsEFGH {
		register(r.row.scheme(r.family))
	}
	tokenDoc := func(source, signed string) doc {
		return doc{family: 'H', source: source, signed: signed}
	}
	register(
		// Mandrill (Mailchimp Transactional): base64 HMAC-SHA1 of the webhook
		// URL exactly as configured followed by the sorted POST parameters.
		Scheme{
			Name:      "mandrill",
			sigHeader: "X-Mandrill-Signature",
			alg:       algSHA1,
			enc:       encBase64,
			custom:    mandrillFamily,
			doc: doc{family: 'E', source: "mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks",
				signed: "HMAC-SHA1 of the webhook URL + sorted form `name+value` pairs"},
		},
		// SendGrid signed Event Webhook: base64 DER ECDSA P-256/SHA-256 over
		// "{ts}{body}", the verification key base64 DER SubjectPublicKeyInfo;
		// no tolerance documented.
		Scheme{
			Name:      "sendgrid",
			sigHeader: "X-Twilio-Email-Event-Webhook-Signature",
			tsHeader:  "X-Twilio-Email-Event-Webhook-Timestamp",
			content:   mustTemplate("{timestamp}{body}"),
			unit:      tsSeconds,
			custom:    ecdsaFamily{},
			doc: doc{family: 'F', source: "twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features; sendgrid-go eventwebhook",
				signed: "ECDSA P-256/SHA-256 of `{timestamp}{body}`", encoding: "base64 DER",
				secret: "ECDSA P-256 public key, base64 DER", dedupe: "hash of the signed timestamp and body"},
		},
		// Upstash QStash: HS256 JWT in Upstash-Signature with iss "Upstash",
		// sub the destination URL, body the base64url SHA-256 of the body,
		// exp/nbf/iat and jti; the current and next signing keys are both
		// configured as secrets.
		Scheme{
			Name:      "qstash",
			sigHeader: "Upstash-Signature",
			unit:      tsSeconds,
			tolerance: time.Minute,
			custom:    jwtFamily{issuer: "Upstash", bodyClaim: "body", bodyBase64: true, urlClaim: "sub", timeClaim: "iat"},
			doc: doc{family: 'G', source: "upstash.com/docs/qstash/howto/signature; upstash.com/docs/qstash/features/security",
				signed: "HS256 JWT: `iss`=Upstash, `sub`=URL, `body`=base64url SHA-256 of the body", encoding: "JWS compact",
				dedupe: "signed JWT `jti`"},
		},
		// Netlify deploy notifications: HS256 JWS in X-Webhook-Signature
		// with iss "netlify" and sha256 the hex SHA-256 of the body; no time
		// claims, so replays are dedupe's job.
		Scheme{
			Name:      "netlify",
			sigHeader: "X-Webhook-Signature",
			custom:    jwtFamily{issuer: "netlify", bodyClaim: "sha256"},
			doc: doc{family: 'G', source: "docs.netlify.com/site-deploys/deploy-notifications/#payload-signature",
				signed: "HS256 JWT: `iss`=netlify, `sha256`=hex SHA-256 of the body", encoding: "JWS compact",
				dedupe: "hash of the signature"},
		},
		// Vonage signed webhooks (Messages, Voice): "Authorization: Bearer
		// <HS256 JWT>" signed with the account signature secret, with iat,
		// jti and payload_hash the hex SHA-256 of the body.
		Scheme{
			Name:      "vonage",
			sigHeader: "Authorization",
			unit:      tsSeconds,
			tolerance: 5 * time.Minute,
			custom:    jwtFamily{bearer: true, bodyClaim: "payload_hash", timeClaim: "iat"},
			doc: doc{family: 'G', source: "developer.vonage.com/en/getting-started/concepts/webhooks#decoding-signed-webhooks; developer.vonage.com/messages/concepts/signed-webhooks",
				signed: "HS256 JWT (Bearer): `payload_hash`=hex SHA-256 of the body", encoding: "JWS compact",
				dedupe: "signed JWT `jti`"},
		},
		// MessageBird: HS256 JWT in MessageBird-Signature-JWT with iss
		// "MessageBird", nbf, exp, jti, url_hash the hex SHA-256 of the full
		// URL and payload_hash that of the body (absent for an empty body).
		Scheme{
			Name:      "messagebird",
			sigHeader: "MessageBird-Signature-JWT",
			unit:      tsSeconds,
			tolerance: time.Minute,
			custom: jwtFamily{issuer: "MessageBird", bodyClaim: "payload_hash", bodyOptional: true,
				urlClaim: "url_hash", urlHashed: true, timeClaim: "nbf"},
			doc: doc{family: 'G', source: "developers.messagebird.com/api/#verifying-http-requests; messagebird-ruby RequestValidator; go-rest-api signature_jwt",
				signed: "HS256 JWT: `iss`=MessageBird, `url_hash`/`payload_hash`=hex SHA-256 of URL/body", encoding: "JWS compact",
				dedupe: "signed JWT `jti`"},
		},
		// Chargebee: HTTP basic auth configured on the webhook.
		Scheme{Name: "chargebee", sigHeader: "Authorization", alg: algToken, custom: tokenFamily{from: tokenBasic},
			doc: tokenDoc("chargebee.com/docs/2.0/webhook_settings.html", "HTTP basic auth `user:password`")},
		// Pipedrive: http_auth_user / http_auth_password sent as basic auth.
		Scheme{Name: "pipedrive", sigHeader: "Authorization", alg: algToken, custom: tokenFamily{from: tokenBasic},
			doc: tokenDoc("pipedrive.readme.io/docs/guide-for-webhooks", "HTTP basic auth `user:password`")},
		// Postmark: "https://<user>:<password>@host/path" as the webhook URL,
		// sent as basic auth.
		Scheme{Name: "postmark", sigHeader: "Authorization", alg: algToken, custom: tokenFamily{from: tokenBasic},
			doc: tokenDoc("postmarkapp.com/developer/webhooks/webhooks-overview#protecting-your-webhook", "HTTP basic auth `user:password`")},
		// Mailchimp Marketing: unsigned; a secret chosen by the user in the
		// webhook URL's query, here ?secret=<value>.
		Scheme{Name: "mailchimp", alg: algToken, custom: tokenFamily{from: tokenQuery, name: "secret"},
			doc: tokenDoc("mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks", "query parameter `secret` of the URL")},
		// Figma webhooks v2: the passcode given at creation is echoed in
		// every event's "passcode" field.
		Scheme{Name: "figma", alg: algToken, custom: tokenFamily{from: tokenBody, field: []string{"passcode"}},
			doc: tokenDoc("developers.figma.com/docs/rest-api/webhooks-security", "body field `passcode`")},
	)
}
