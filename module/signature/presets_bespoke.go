package signature

// The presets of the bespoke families (E to H), each a Scheme with a custom
// hook or a shared-token algorithm, registered beside the data-driven rows.
func init() {
	register(
		// Twilio docs and twilio-go RequestValidator: HMAC-SHA1, canonical
		// base64, over the URL plus sorted form parameters (twilio.go).
		Scheme{
			Name:      "twilio",
			sigHeader: "X-Twilio-Signature",
			alg:       algSHA1,
			enc:       encBase64,
			custom:    twilioFamily,
			doc: doc{family: 'E', source: "twilio.com/docs/usage/security#validating-requests; twilio-go",
				signed: "HMAC-SHA1 of the full URL + sorted form `name+value` pairs (JSON: URL with `bodySHA256`)"},
		},
		// GitLab docs: X-Gitlab-Token carries the secret token itself.
		Scheme{
			Name:      "gitlab",
			sigHeader: "X-Gitlab-Token",
			alg:       algToken,
			doc:       doc{family: 'H', source: "docs.gitlab.com/user/project/integrations/webhooks"},
		},
	)
}
