package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
)

// A handshake is a provider's check that an endpoint is willing and able
// to receive its webhooks, answered by the verifier itself and never
// forwarded. Unsigned handshakes (Twitter CRC, Meta, Dropbox, Asana,
// Trello) are answered before verification and must change no state; the
// answer proves nothing a caller could not compute, or echoes a value the
// caller sent. Signed handshakes (Zoom, Twitch, Slack, and the token-checked Mailchimp and Okta) are
// answered only after the request verified, and are not recorded for
// dedupe either.

// Reply is a handshake's answer.
type Reply struct {
	// Status is the HTTP status, 200 for every handshake so far.
	Status int
	// Header holds the answer's headers, Content-Type included.
	Header http.Header
	// Body is the answer's body.
	Body []byte
}

// handshake recognises one provider's handshake and builds its answer. For
// an unsigned handshake res is nil; for a signed one it is the verified
// request's Result.
type handshake struct {
	signed bool
	answer func(s *Scheme, r Request, res *Result, secrets []Secret) (*Reply, bool)
}

// handshakes lists each preset's handshakes by preset name. A preset of
// another file gains its handshake here, so its row stays plain data.
var handshakes = map[string][]handshake{
	"twitter":   {{answer: twitterCRC}},
	"meta":      {{answer: metaSubscribe}},
	"dropbox":   {{answer: dropboxChallenge}},
	"asana":     {{answer: asanaHookSecret}},
	"trello":    {{answer: trelloHead}},
	"zoom":      {{signed: true, answer: zoomURLValidation}},
	"twitch":    {{signed: true, answer: twitchVerification}},
	"slack":     {{signed: true, answer: slackURLVerification}},
	"mailchimp": {{signed: true, answer: mailchimpPing}},
	"okta":      {{signed: true, answer: oktaVerification}},
}

// UnsignedHandshake answers r if it is one of the scheme's unsigned
// handshakes. Call it before Verify; a request it answers must be neither
// verified, recorded nor forwarded. secrets are the live secrets, as for
// Verify.
func (s *Scheme) UnsignedHandshake(r Request, secrets []Secret) (*Reply, bool) {
	for _, h := range handshakes[s.Name] {
		if !h.signed {
			if rep, ok := h.answer(s, r, nil, secrets); ok {
				return rep, true
			}
		}
	}
	return nil, false
}

// SignedHandshake answers r if it is one of the scheme's signed handshakes.
// Call it only after Verify accepted r, with its Result; a request it
// answers must be neither recorded for dedupe nor forwarded.
func (s *Scheme) SignedHandshake(r Request, res Result, secrets []Secret) (*Reply, bool) {
	for _, h := range handshakes[s.Name] {
		if h.signed {
			if rep, ok := h.answer(s, r, &res, secrets); ok {
				return rep, true
			}
		}
	}
	return nil, false
}

// maxChallenge bounds an echoed or MACed challenge.
const maxChallenge = 512

// challengeToken reports whether v may be echoed or MACed: 1 to
// maxChallenge characters of letters, digits and "-._~+/=". A body that
// would serve as a forged webhook (JSON, a form with "&") never passes, so
// a MACing handshake cannot become a signing oracle, and an echo cannot
// carry markup.
func challengeToken(v string) bool {
	if v == "" || len(v) > maxChallenge {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '-', '.', '_', '~', '+', '/', '=':
			continue
		}
		return false
	}
	return true
}

// query returns the request URL's query, or nil.
func query(r Request) url.Values {
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil
	}
	return u.Query()
}

// single returns the only value of a query parameter, or "".
func single(q url.Values, name string) string {
	if vs := q[name]; len(vs) == 1 {
		return vs[0]
	}
	return ""
}

func textReply(body string, extra ...string) *Reply {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return &Reply{Status: http.StatusOK, Header: h, Body: []byte(body)}
}

func jsonReply(v any) *Reply {
	b, _ := json.Marshal(v)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &Reply{Status: http.StatusOK, Header: h, Body: b}
}

// twitterCRC answers X's Challenge-Response Check: GET ?crc_token=<t> gets
// {"response_token":"sha256=<base64 HMAC-SHA256(consumer secret, t)>"}
// (developer.x.com, Account Activity API, Securing webhooks). The first
// live secret answers; the token alphabet is bounded by challengeToken,
// because X signs event bodies with the same key and content form.
func twitterCRC(_ *Scheme, r Request, _ *Result, secrets []Secret) (*Reply, bool) {
	if r.Method != http.MethodGet {
		return nil, false
	}
	tok := single(query(r), "crc_token")
	key := firstKey(secrets)
	if !challengeToken(tok) || key == nil {
		return nil, false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tok))
	return jsonReply(map[string]string{"response_token": "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil))}), true
}

// metaSubscribe answers Meta's verification request: GET with
// hub.mode=subscribe, hub.verify_token equal to a configured secret and
// hub.challenge gets the challenge back (developers.facebook.com, Graph API
// Webhooks, Getting started). A wrong verify token is not a handshake, so
// it falls through to verification and is refused.
func metaSubscribe(s *Scheme, r Request, _ *Result, secrets []Secret) (*Reply, bool) {
	if r.Method != http.MethodGet {
		return nil, false
	}
	q := query(r)
	challenge, tok := single(q, "hub.challenge"), single(q, "hub.verify_token")
	if single(q, "hub.mode") != "subscribe" || !challengeToken(challenge) || tok == "" {
		return nil, false
	}
	if _, err := s.verifyToken(tok, nil, secrets); err != nil {
		return nil, false
	}
	return textReply(challenge), true
}

// dropboxChallenge answers Dropbox's verification request: GET
// ?challenge=<c> gets c back as text/plain with nosniff (dropbox.com,
// Webhooks reference).
func dropboxChallenge(_ *Scheme, r Request, _ *Result, _ []Secret) (*Reply, bool) {
	c := single(query(r), "challenge")
	if r.Method != http.MethodGet || !challengeToken(c) {
		return nil, false
	}
	return textReply(c), true
}

// asanaHookSecret answers Asana's handshake: a POST carrying X-Hook-Secret
// and no X-Hook-Signature gets the same X-Hook-Secret header back
// (developers.asana.com, Webhooks guide). The secret is not kept: events
// are then signed with it, so it must be configured as the route's secret.
func asanaHookSecret(_ *Scheme, r Request, _ *Result, _ []Secret) (*Reply, bool) {
	if r.Method != http.MethodPost || len(r.Header.Values("X-Hook-Signature")) > 0 {
		return nil, false
	}
	vals := r.Header.Values("X-Hook-Secret")
	if len(vals) != 1 || !challengeToken(vals[0]) {
		return nil, false
	}
	return textReply("", "X-Hook-Secret", vals[0]), true
}

// trelloHead answers the HEAD request Trello sends to a callback URL when
// a webhook is created, which must get a 200 (developer.atlassian.com,
// Trello webhooks).
func trelloHead(_ *Scheme, r Request, _ *Result, _ []Secret) (*Reply, bool) {
	if r.Method != http.MethodHead {
		return nil, false
	}
	return &Reply{Status: http.StatusOK, Header: http.Header{}}, true
}

// zoomURLValidation answers Zoom's signed endpoint.url_validation event
// with {"plainToken":p,"encryptedToken":hex HMAC-SHA256(secret, p)}, using
// the secret that verified it (developers.zoom.us, Webhooks, Validate your
// webhook endpoint).
func zoomURLValidation(_ *Scheme, r Request, res *Result, secrets []Secret) (*Reply, bool) {
	if jsonField(r.Body, []string{"event"}) != "endpoint.url_validation" {
		return nil, false
	}
	plain := jsonField(r.Body, []string{"payload", "plainToken"})
	if !challengeToken(plain) {
		return nil, false
	}
	m := hmac.New(sha256.New, secrets[res.Secret].key)
	m.Write([]byte(plain))
	return jsonReply(map[string]string{"plainToken": plain, "encryptedToken": hex.EncodeToString(m.Sum(nil))}), true
}

// twitchVerification answers Twitch EventSub's signed
// webhook_callback_verification message with its challenge as text/plain
// (dev.twitch.tv, EventSub, Handling webhook events).
var twitchVerification = bodyChallenge(func(r Request) bool {
	return r.Header.Get("Twitch-Eventsub-Message-Type") == "webhook_callback_verification"
})

// slackURLVerification answers Slack's signed url_verification event with
// its challenge as text/plain (api.slack.com, Events API,
// url_verification).
var slackURLVerification = bodyChallenge(func(r Request) bool {
	return jsonField(r.Body, []string{"type"}) == "url_verification"
})

// bodyChallenge answers a signed handshake, recognised by is, by echoing
// the body's "challenge" field as text/plain.
func bodyChallenge(is func(Request) bool) func(*Scheme, Request, *Result, []Secret) (*Reply, bool) {
	return func(_ *Scheme, r Request, _ *Result, _ []Secret) (*Reply, bool) {
		if !is(r) {
			return nil, false
		}
		c := jsonField(r.Body, []string{"challenge"})
		if !challengeToken(c) {
			return nil, false
		}
		return textReply(c), true
	}
}

// mailchimpPing answers the GET Mailchimp sends to a webhook URL when it is
// saved, once the URL's secret has verified it (mailchimp.com/developer,
// Sync audience data with webhooks): a 200 with no body.
func mailchimpPing(_ *Scheme, r Request, _ *Result, _ []Secret) (*Reply, bool) {
	if r.Method != http.MethodGet {
		return nil, false
	}
	return textReply(""), true
}

// oktaVerification answers Okta's one-time event hook verification, a GET
// carrying X-Okta-Verification-Challenge, once its authentication header
// verified: {"verification":<the challenge>} (developer.okta.com, Event
// hooks, One-time verification request).
func oktaVerification(_ *Scheme, r Request, _ *Result, _ []Secret) (*Reply, bool) {
	vals := r.Header.Values("X-Okta-Verification-Challenge")
	if r.Method != http.MethodGet || len(vals) != 1 || !challengeToken(vals[0]) {
		return nil, false
	}
	return jsonReply(map[string]string{"verification": vals[0]}), true
}
