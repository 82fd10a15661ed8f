package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	paddle "github.com/PaddleHQ/paddle-go-sdk/v4"
	"github.com/PagerDuty/go-pagerduty/webhookv3"
	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/bwmarrin/discordgo"
	"github.com/google/go-github/v81/github"
	linewebhook "github.com/line/line-bot-sdk-go/v8/linebot/webhook"
	"github.com/mailgun/mailgun-go/v4"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	razorpayutils "github.com/razorpay/razorpay-go/utils"
	"github.com/resend/resend-go/v3"
	"github.com/slack-go/slack"
	"github.com/stripe/stripe-go/v84/webhook"
	svix "github.com/svix/svix-webhooks/go"
	twilio "github.com/twilio/twilio-go/client"
)

// TestProvidersEndToEnd sends each provider's webhook, signed the way the
// provider signs it, through providers.Caddyfile over real HTTP. Requests
// are signed by the provider's own SDK where it can sign; otherwise by an
// in-test implementation of the provider's documented algorithm that is
// first anchored to testdata/vectors and, where the provider ships one,
// confirmed by the SDK's verifier. Hookguard's own signature.Sign is never
// used here.
func TestProvidersEndToEnd(t *testing.T) {
	s := startSite(t)

	t.Run("standard/multi-secret header from the canonical library", func(t *testing.T) {
		// A sender mid-rotation signs with its new secret, unknown here,
		// and with the one Hookguard has as previous: any match passes.
		// Both signatures come from the Standard Webhooks Go library
		// (standardRequest).
		id := newID(t)
		body := eventBody(id)
		now := time.Now()
		h := standardRequest(t, newSecret(t), id, now, body)
		other := standardRequest(t, s.secrets["standard_previous"], id, now, body)
		h.Set("webhook-signature", h.Get("webhook-signature")+" "+other.Get("webhook-signature"))
		s.checkDelivery(t, delivery{path: "/standard", header: h, body: body})
	})

	t.Run("svix", func(t *testing.T) {
		id := newID(t)
		body := eventBody(id)
		h := svixRequest(t, s.secrets["svix"], id, time.Now(), body)
		s.checkDelivery(t, delivery{path: "/svix", header: h, body: body})
	})

	t.Run("stripe", func(t *testing.T) {
		id := "evt_" + randomHex(t, 12)
		body := []byte(`{"id":"` + id + `","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_` +
			randomHex(t, 8) + `","amount":2000,"currency":"usd","description":"caf\u00e9 ☕"}},"livemode":false}`)
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
			Payload:   body,
			Secret:    s.secrets["stripe"],
			Timestamp: time.Now(),
		})
		h := http.Header{}
		h.Set("Stripe-Signature", signed.Header)
		h.Set("Content-Type", "application/json; charset=utf-8")
		s.checkDelivery(t, delivery{path: "/stripe", header: h, body: body})
	})

	t.Run("github", func(t *testing.T) {
		anchor(t, "github", func(v vector) http.Header { return githubHeader(v.Secret, []byte(v.Body)) })
		secret := s.secrets["github"]
		body := []byte(`{"action":"opened","number":` + strconv.Itoa(int(time.Now().UnixNano()%100000)) +
			`,"pull_request":{"title":"Fix caf\u00e9 ☕","head":{"sha":"` + randomHex(t, 20) + `"}}}`)
		h := githubHeader(secret, body)
		if err := github.ValidateSignature(h.Get("X-Hub-Signature-256"), body, []byte(secret)); err != nil {
			t.Fatalf("go-github rejects the in-test signature: %v", err)
		}
		h.Set("X-GitHub-Event", "pull_request")
		h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-"+randomHex(t, 6))
		h.Set("Content-Type", "application/json")
		first := s.checkDelivery(t, delivery{path: "/github", header: h, body: body})

		// Reliability case 26: X-GitHub-Delivery is unsigned, so a redelivery
		// under a fresh delivery ID is still the same signed delivery.
		before := s.up.count("/github")
		h.Set("X-GitHub-Delivery", "a1b2c3d4-0000-11e3-81ab-"+randomHex(t, 6))
		a := send(t, s.base+"/github", h, body)
		if a.Status != 200 || a.Header.Get("Webhook-Duplicate") != "true" || a.Body != first.Body {
			t.Fatalf("fresh X-GitHub-Delivery: got %d %q dup=%q, want the replayed duplicate", a.Status, a.Body, a.Header.Get("Webhook-Duplicate"))
		}
		if n := s.up.count("/github") - before; n != 0 {
			t.Fatalf("fresh X-GitHub-Delivery was forwarded (%d)", n)
		}
	})

	t.Run("gitlab", func(t *testing.T) {
		// GitLab sends the configured token itself (no SDK signs; the
		// vector shows the documented header), so the token covers no
		// content: a changed body is a different delivery, not a forgery.
		anchor(t, "gitlab", func(v vector) http.Header { return gitlabHeader(v.Secret) })
		body := []byte(`{"object_kind":"push","event_name":"push","after":"` + randomHex(t, 20) + `","ref":"refs/heads/main","project_id":15}`)
		h := gitlabHeader(s.secrets["gitlab"])
		h.Set("X-Gitlab-Event", "Push Hook")
		h.Set("Content-Type", "application/json")

		first := s.checkValid(t, "/gitlab", s.base+"/gitlab", h, body)

		before := s.up.count("/gitlab")
		wrong := gitlabHeader("gitlab-" + randomHex(t, 16))
		if a := send(t, s.base+"/gitlab", wrong, body); a.Status != 401 || errorCode(t, a) != "invalid_signature" {
			t.Fatalf("wrong token: got %d %s, want 401 invalid_signature", a.Status, a.Body)
		}
		if n := s.up.count("/gitlab") - before; n != 0 {
			t.Fatalf("wrong token was forwarded (%d)", n)
		}

		s.checkDuplicate(t, "/gitlab", s.base+"/gitlab", h, body, first)

		// Deduped by body hash: one byte more is a new delivery.
		other := flip(body, len(body)-3)
		before = s.up.count("/gitlab")
		a := send(t, s.base+"/gitlab", h, other)
		if a.Status != 200 || a.Header.Get("Webhook-Duplicate") != "" {
			t.Fatalf("different body: got %d %q dup=%q, want a forwarded 200", a.Status, a.Body, a.Header.Get("Webhook-Duplicate"))
		}
		if n := s.up.count("/gitlab") - before; n != 1 {
			t.Fatalf("different body with the same token was not forwarded (%d)", n)
		}
		if got := s.up.last(t, "/gitlab"); !bytes.Equal(got.Body, other) {
			t.Fatalf("upstream got %q, want %q", got.Body, other)
		}
	})

	t.Run("slack", func(t *testing.T) {
		anchor(t, "slack", func(v vector) http.Header {
			ts, _ := strconv.ParseInt(v.Headers["X-Slack-Request-Timestamp"], 10, 64)
			return slackHeader(v.Secret, ts, []byte(v.Body))
		})
		secret := s.secrets["slack"]
		body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fdeploy&text=caf%C3%A9+%E2%98%95&trigger_id=" + randomHex(t, 10))
		h := slackHeader(secret, time.Now().Unix(), body)
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		sv, err := slack.NewSecretsVerifier(h, secret)
		if err != nil {
			t.Fatalf("slack-go: %v", err)
		}
		if _, err := sv.Write(body); err != nil {
			t.Fatal(err)
		}
		if err := sv.Ensure(); err != nil {
			t.Fatalf("slack-go rejects the in-test signature: %v", err)
		}
		s.checkDelivery(t, delivery{path: "/slack", header: h, body: body})
	})

	t.Run("shopify", func(t *testing.T) {
		// No Go SDK verifies Shopify webhooks: the documented vector is the
		// only anchor.
		anchor(t, "shopify", func(v vector) http.Header { return shopifyHeader(v.Secret, []byte(v.Body)) })
		body := []byte(`{"id":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `,"email":"jon@example.com","note":"caf\u00e9 ☕","total_price":"403.00","currency":"USD"}`)
		h := shopifyHeader(s.secrets["shopify"], body)
		h.Set("X-Shopify-Topic", "orders/create")
		h.Set("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-"+randomHex(t, 6))
		h.Set("Content-Type", "application/json")
		s.checkDelivery(t, delivery{path: "/shopify", header: h, body: body})
	})

	t.Run("paddle", func(t *testing.T) {
		anchor(t, "paddle", func(v vector) http.Header {
			ts, _, _ := strings.Cut(strings.TrimPrefix(v.Headers["Paddle-Signature"], "ts="), ";")
			n, _ := strconv.ParseInt(ts, 10, 64)
			return paddleHeader(v.Secret, n, []byte(v.Body))
		})
		secret := s.secrets["paddle"]
		body := []byte(`{"event_id":"evt_` + randomHex(t, 13) + `","event_type":"transaction.completed","occurred_at":"2024-03-20T10:07:35.590857Z",` +
			`"notification_id":"ntf_01hsdn977e920kbgzt6r6c9rqc","data":{"id":"txn_01","status":"completed","note":"caf\u00e9 ☕"}}`)
		h := paddleHeader(secret, time.Now().Unix(), body)
		h.Set("Content-Type", "application/json")
		req := httptest.NewRequest(http.MethodPost, s.base+"/paddle", bytes.NewReader(body))
		req.Header = h.Clone()
		ok, err := paddle.NewWebhookVerifier(secret, paddle.VerifierWithTimestampTolerance(5*time.Minute)).Verify(req)
		if err != nil || !ok {
			t.Fatalf("paddle-go-sdk rejects the in-test signature: ok=%v err=%v", ok, err)
		}
		s.checkDelivery(t, delivery{path: "/paddle", header: h, body: body})
	})

	t.Run("twilio", func(t *testing.T) {
		for _, name := range []string{"twilio", "twilio-docs", "twilio-json"} {
			v := loadVector(t, name)
			var form url.Values
			if !strings.Contains(v.URL, "bodySHA256=") {
				var err error
				if form, err = url.ParseQuery(v.Body); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := twilioSignature(v.Secret, v.URL, form), v.Headers["X-Twilio-Signature"]; got != want {
				t.Fatalf("vector %s: in-test signer gives %s, vector has %s", name, got, want)
			}
		}
		token := s.secrets["twilio"]

		t.Run("form-encoded", func(t *testing.T) {
			form := url.Values{
				"CallSid":    {"CA" + randomHex(t, 16)},
				"AccountSid": {"AC" + randomHex(t, 16)},
				"From":       {"+14158675309"},
				"To":         {"+18005551212"},
				"Body":       {"caf\u00e9 ☕ & more = fun"},
			}
			body := []byte(form.Encode())
			target := s.base + "/twilio?source=voice"
			sig := twilioSignature(token, target, form)
			rv := twilio.NewRequestValidator(token)
			params := map[string]string{}
			for k, vs := range form {
				params[k] = vs[0]
			}
			if !rv.Validate(target, params, sig) || !rv.ValidateBody(target, body, sig) {
				t.Fatal("twilio-go RequestValidator rejects the in-test form signature")
			}
			h := http.Header{}
			h.Set("X-Twilio-Signature", sig)
			h.Set("Content-Type", "application/x-www-form-urlencoded")
			s.checkDelivery(t, delivery{path: "/twilio", url: target, header: h, body: body, tamper: 4})
		})

		t.Run("json with bodySHA256", func(t *testing.T) {
			body := []byte(`{"event":"message.delivered","sid":"SM` + randomHex(t, 16) + `","note":"caf\u00e9 ☕"}`)
			sum := sha256.Sum256(body)
			target := s.base + "/twilio?bodySHA256=" + hex.EncodeToString(sum[:])
			sig := twilioSignature(token, target, nil)
			rv := twilio.NewRequestValidator(token)
			if !rv.ValidateBody(target, body, sig) {
				t.Fatal("twilio-go RequestValidator rejects the in-test JSON signature")
			}
			h := http.Header{}
			h.Set("X-Twilio-Signature", sig)
			h.Set("Content-Type", "application/json")
			s.checkDelivery(t, delivery{path: "/twilio", url: target, header: h, body: body})
		})
	})

	t.Run("discord", func(t *testing.T) {
		// The vector's key comes from the seed 32*0x42; Ed25519 signatures
		// are deterministic, so the signer must reproduce it exactly.
		vkey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
		anchor(t, "discord", func(v vector) http.Header {
			if hex.EncodeToString(vkey.Public().(ed25519.PublicKey)) != v.Secret {
				t.Fatalf("discord vector public key is not that of seed 32*0x42")
			}
			ts, _ := strconv.ParseInt(v.Headers["X-Signature-Timestamp"], 10, 64)
			return discordHeader(vkey, ts, []byte(v.Body))
		})
		id := strconv.FormatInt(1180000000000000000+time.Now().UnixNano()%1e15, 10)
		body := []byte(`{"application_id":"1180000000000000000","id":"` + id + `","token":"` + randomHex(t, 16) +
			`","type":2,"data":{"name":"caf\u00e9","options":[{"name":"cup","value":"☕"}]},"version":1}`)
		h := discordHeader(discordKey, time.Now().Unix(), body)
		h.Set("Content-Type", "application/json")
		req := httptest.NewRequest(http.MethodPost, s.base+"/discord", bytes.NewReader(body))
		req.Header = h.Clone()
		pub, err := hex.DecodeString(s.secrets["discord"])
		if err != nil {
			t.Fatal(err)
		}
		if !discordgo.VerifyInteraction(req, ed25519.PublicKey(pub)) {
			t.Fatal("discordgo rejects the in-test signature")
		}
		s.checkDelivery(t, delivery{path: "/discord", header: h, body: body})
	})

	t.Run("foil", func(t *testing.T) {
		anchor(t, "foil", func(v vector) http.Header {
			ts, _ := strconv.ParseInt(v.Headers["X-Foil-Timestamp"], 10, 64)
			return foilHeader(v.Secret, ts, v.Headers["X-Foil-Event"], []byte(v.Body))
		})
		id := "evt_foil_" + randomHex(t, 8)
		body := []byte(`{"id":"` + id + `","type":"invoice.paid","created":1700000000,"data":{"invoice":"inv_42","note":"caf\u00e9 ☕"}}`)
		h := foilHeader(s.secrets["foil"], time.Now().Unix(), id, body)
		h.Set("Content-Type", "application/json")
		s.checkDelivery(t, delivery{path: "/foil", header: h, body: body})
	})

	t.Run("enforgate", func(t *testing.T) {
		anchor(t, "enforgate", func(v vector) http.Header {
			ms, _ := strconv.ParseInt(v.Headers["x-enforgate-timestamp"], 10, 64)
			return enforgateHeader(v.Secret, ms, []byte(v.Body))
		})
		body := []byte(`{"type":"policy.violation","subject":"user_` + randomHex(t, 4) + `","severity":"high","note":"caf\u00e9 ☕"}`)
		h := enforgateHeader(s.secrets["enforgate"], time.Now().UnixMilli(), body)
		h.Set("Content-Type", "application/json")
		s.checkDelivery(t, delivery{path: "/enforgate", header: h, body: body})
	})

	t.Run("gately", func(t *testing.T) {
		anchor(t, "gately", func(v vector) http.Header { return gatelyHeader(v.Secret, []byte(v.Body)) })
		secret := s.secrets["gately"]
		body := []byte(`{"id":"gev_` + randomHex(t, 8) + `","type":"gate.opened","gate":"north-1","note":"caf\u00e9 ☕"}`)
		h := gatelyHeader(secret, body)
		// Gately's header is GitHub's format, so go-github checks it too.
		if err := github.ValidateSignature(h.Get("X-Gately-Signature"), body, []byte(secret)); err != nil {
			t.Fatalf("go-github rejects the in-test gately signature: %v", err)
		}
		h.Set("Content-Type", "application/json")
		s.checkDelivery(t, delivery{path: "/gately", header: h, body: body})
	})

	t.Run("hmac", func(t *testing.T) {
		// There is no hmac vector: the route signs "{timestamp}.{body}" as
		// foil does (anchored above by foil.json), behind GitHub's
		// "sha256=" prefix, so go-github checks it over the same content.
		secret := s.secrets["hmac"]
		ts := time.Now().Unix()
		body := []byte(`{"kind":"generic","ref":"` + randomHex(t, 8) + `","note":"caf\u00e9 ☕"}`)
		h := hmacRouteHeader(secret, ts, body)
		signed := []byte(strconv.FormatInt(ts, 10) + "." + string(body))
		if err := github.ValidateSignature(h.Get("X-Signature"), signed, []byte(secret)); err != nil {
			t.Fatalf("go-github rejects the in-test hmac signature: %v", err)
		}
		h.Set("Content-Type", "application/json")
		s.checkDelivery(t, delivery{path: "/hmac", header: h, body: body})
	})
}

// delivery is one signed provider request.
type delivery struct {
	path   string // the route, as the upstream records it
	url    string // the full URL; s.base+path when empty
	header http.Header
	body   []byte
	tamper int // index of the byte the tampered copy flips; len-2 when 0
}

// checkDelivery asserts, over real HTTP, that the signed request reaches
// the upstream byte for byte, that a one-byte change of its body is
// refused as invalid_signature and not forwarded, and that sending it
// again replays the first answer as a duplicate without forwarding. It
// returns the first answer.
func (s *site) checkDelivery(t *testing.T, d delivery) answer {
	t.Helper()
	target := d.url
	if target == "" {
		target = s.base + d.path
	}
	first := s.checkValid(t, d.path, target, d.header, d.body)

	pos := d.tamper
	if pos == 0 {
		pos = len(d.body) - 2
	}
	before := s.up.count(d.path)
	a := send(t, target, d.header, flip(d.body, pos))
	if a.Status != 401 || errorCode(t, a) != "invalid_signature" {
		t.Fatalf("tampered body: got %d %s, want 401 invalid_signature", a.Status, a.Body)
	}
	if n := s.up.count(d.path) - before; n != 0 {
		t.Fatalf("tampered body was forwarded (%d)", n)
	}

	s.checkDuplicate(t, d.path, target, d.header, d.body, first)
	return first
}

// checkValid sends a genuine request and checks the upstream got it whole.
func (s *site) checkValid(t *testing.T, path, target string, h http.Header, body []byte) answer {
	t.Helper()
	before := s.up.count(path)
	a := send(t, target, h, body)
	if a.Status != 200 || a.Header.Get("Webhook-Duplicate") != "" {
		t.Fatalf("valid request: got %d %s dup=%q, want 200 from the upstream", a.Status, a.Body, a.Header.Get("Webhook-Duplicate"))
	}
	if n := s.up.count(path) - before; n != 1 {
		t.Fatalf("valid request reached the upstream %d times, want 1", n)
	}
	got := s.up.last(t, path)
	if !bytes.Equal(got.Body, body) || got.ContentLength != int64(len(body)) {
		t.Fatalf("upstream got %d bytes %q (Content-Length %d), want %d bytes %q", len(got.Body), got.Body, got.ContentLength, len(body), body)
	}
	if want := fmt.Sprintf(`{"seen":%d,"sha256":"%x"}`, len(body), sha256.Sum256(body)); a.Body != want {
		t.Fatalf("answer %q is not the upstream's %q", a.Body, want)
	}
	return a
}

// checkDuplicate sends the same request again and expects the first answer
// replayed, marked as a duplicate, and nothing forwarded.
func (s *site) checkDuplicate(t *testing.T, path, target string, h http.Header, body []byte, first answer) {
	t.Helper()
	before := s.up.count(path)
	a := send(t, target, h, body)
	if a.Status != 200 || a.Header.Get("Webhook-Duplicate") != "true" || a.Body != first.Body {
		t.Fatalf("identical delivery: got %d %q dup=%q, want 200 %q with Webhook-Duplicate: true", a.Status, a.Body, a.Header.Get("Webhook-Duplicate"), first.Body)
	}
	if n := s.up.count(path) - before; n != 0 {
		t.Fatalf("identical delivery was forwarded (%d)", n)
	}
}

// flip returns a copy of b with one bit of byte i changed.
func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

// vector is a file of testdata/vectors.
type vector struct {
	Secret  string            `json:"secret"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func loadVector(t testing.TB, name string) vector {
	t.Helper()
	raw, err := os.ReadFile(repoFile("testdata", "vectors", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("vector %s: %v", name, err)
	}
	return v
}

// anchor checks that sign, given the vector's secret and content,
// reproduces every header of the vector it sets.
func anchor(t testing.TB, name string, sign func(vector) http.Header) {
	t.Helper()
	v := loadVector(t, name)
	got := sign(v)
	if len(got) == 0 {
		t.Fatalf("vector %s: signer set no header", name)
	}
	want := http.Header{}
	for k, val := range v.Headers {
		want.Set(k, val)
	}
	for k := range got {
		if got.Get(k) != want.Get(k) {
			t.Fatalf("vector %s: in-test signer gives %s: %q, vector has %q", name, k, got.Get(k), want.Get(k))
		}
	}
}

// hmacSHA256 is HMAC-SHA256 with a raw key over the concatenated parts.
func hmacSHA256(key string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(key))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func unix(ts int64) []byte { return []byte(strconv.FormatInt(ts, 10)) }

// githubHeader: X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body)>
// (docs.github.com, Validating webhook deliveries).
func githubHeader(secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(hmacSHA256(secret, body)))
	return h
}

// gitlabHeader: X-Gitlab-Token carries the secret token verbatim.
func gitlabHeader(token string) http.Header {
	h := http.Header{}
	h.Set("X-Gitlab-Token", token)
	return h
}

// slackHeader: X-Slack-Signature: v0=<hex HMAC-SHA256("v0:{ts}:{body}")>
// with X-Slack-Request-Timestamp (api.slack.com, Verifying requests).
func slackHeader(secret string, ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", string(unix(ts)))
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(hmacSHA256(secret, []byte("v0:"), unix(ts), []byte(":"), body)))
	return h
}

// shopifyHeader: X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(body)>
// (shopify.dev, Verify webhook deliveries).
func shopifyHeader(secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(hmacSHA256(secret, body)))
	return h
}

// paddleHeader: Paddle-Signature: ts=<s>;h1=<hex HMAC-SHA256("{ts}:{body}")>
// (developer.paddle.com, Verify webhook signatures).
func paddleHeader(secret string, ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set("Paddle-Signature", fmt.Sprintf("ts=%d;h1=%x", ts, hmacSHA256(secret, unix(ts), []byte(":"), body)))
	return h
}

// twilioSignature is base64 HMAC-SHA1 over the full URL followed by every
// POST parameter as name+value sorted by name (twilio.com/docs/usage/security);
// form is nil for a JSON body, bound instead by the URL's bodySHA256.
func twilioSignature(token, fullURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		vals := append([]string(nil), form[name]...)
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(name + v)
		}
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// discordHeader: X-Signature-Ed25519: <hex Ed25519("{ts}{body}")> with
// X-Signature-Timestamp (discord.com/developers, Receiving an interaction).
func discordHeader(key ed25519.PrivateKey, ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-Signature-Timestamp", string(unix(ts)))
	h.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, append(unix(ts), body...))))
	return h
}

// foilHeader (design.md): X-Foil-Signature: <hex HMAC-SHA256("{ts}.{body}")>
// with the whole secret string as key, X-Foil-Timestamp in seconds, and the
// body's id repeated, unsigned, in X-Foil-Event.
func foilHeader(secret string, ts int64, id string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-Foil-Timestamp", string(unix(ts)))
	h.Set("X-Foil-Event", id)
	h.Set("X-Foil-Signature", hex.EncodeToString(hmacSHA256(secret, unix(ts), []byte("."), body)))
	return h
}

// enforgateHeader (design.md): x-enforgate-signature: <hex
// HMAC-SHA256("{ts}.{body}")> with x-enforgate-timestamp in milliseconds.
func enforgateHeader(secret string, tsMillis int64, body []byte) http.Header {
	h := http.Header{}
	h.Set("x-enforgate-timestamp", string(unix(tsMillis)))
	h.Set("x-enforgate-signature", hex.EncodeToString(hmacSHA256(secret, unix(tsMillis), []byte("."), body)))
	return h
}

// gatelyHeader (design.md): X-Gately-Signature: sha256=<hex HMAC-SHA256(body)>.
func gatelyHeader(secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-Gately-Signature", "sha256="+hex.EncodeToString(hmacSHA256(secret, body)))
	return h
}

// hmacRouteHeader is what providers.Caddyfile's /hmac route expects:
// X-Signature: sha256=<hex HMAC-SHA256("{ts}.{body}")>, X-Timestamp in
// seconds, the secret string used raw (no secret_encoding).
func hmacRouteHeader(secret string, ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-Timestamp", string(unix(ts)))
	h.Set("X-Signature", "sha256="+hex.EncodeToString(hmacSHA256(secret, unix(ts), []byte("."), body)))
	return h
}

// presetSecrets makes a fresh secret for each further preset route of
// providers.Caddyfile; startSite exports each as HG_<NAME>. A file of
// other routes may add its own from an init.
var presetSecrets = map[string]func(testing.TB) string{
	"openai":    newSecret,
	"anthropic": newSecret,
	"resend":    newSecret,
	"razorpay":  plainSecret("razorpay"),
	"line":      plainSecret("line"),
	"pagerduty": plainSecret("pagerduty"),
	"mailgun":   plainSecret("mailgun"),
}

// plainSecret returns a generator of raw secrets named after the preset.
func plainSecret(name string) func(testing.TB) string {
	return func(t testing.TB) string { return name + "-" + randomHex(t, 16) }
}

// TestProviderSDKsEndToEnd sends, through the built binary, a request for
// each preset whose provider ships a Go SDK that verifies: signed by the
// Standard Webhooks or Svix library, or by an in-test signer anchored to
// the preset's vector, and accepted by the provider's SDK before it is
// sent. Hookguard's own signer is never used.
func TestProviderSDKsEndToEnd(t *testing.T) {
	s := startSite(t)
	standardAlias := func(t *testing.T, name string) (http.Header, []byte) {
		id := newID(t)
		body := []byte(`{"id":"evt_` + randomHex(t, 8) + `","type":"response.completed","created_at":1700000000,"data":{"note":"caf\u00e9 ☕"}}`)
		return standardRequest(t, s.secrets[name], id, time.Now(), body), body
	}

	t.Run("openai", func(t *testing.T) {
		h, body := standardAlias(t, "openai")
		c := openai.NewClient(option.WithWebhookSecret(s.secrets["openai"]))
		if err := c.Webhooks.VerifySignature(body, h); err != nil {
			t.Fatalf("openai-go rejects the request: %v", err)
		}
		s.checkDelivery(t, delivery{path: "/openai", header: h, body: body})
	})

	t.Run("anthropic", func(t *testing.T) {
		h, body := standardAlias(t, "anthropic")
		c := anthropic.NewClient(aoption.WithWebhookKey(s.secrets["anthropic"]))
		if _, err := c.Beta.Webhooks.Unwrap(body, h); err != nil {
			t.Fatalf("anthropic-sdk-go rejects the request: %v", err)
		}
		s.checkDelivery(t, delivery{path: "/anthropic", header: h, body: body})
	})

	t.Run("resend", func(t *testing.T) {
		id := newID(t)
		body := []byte(`{"type":"email.delivered","created_at":"2024-02-22T23:41:12.126Z","data":{"email_id":"` + randomHex(t, 8) + `","subject":"caf\u00e9 ☕"}}`)
		h := svixRequest(t, s.secrets["resend"], id, time.Now(), body)
		err := resend.NewClient("re_test").Webhooks.Verify(&resend.VerifyWebhookOptions{
			Payload:       string(body),
			Headers:       resend.WebhookHeaders{Id: id, Timestamp: h.Get("svix-timestamp"), Signature: h.Get("svix-signature")},
			WebhookSecret: s.secrets["resend"],
		})
		if err != nil {
			t.Fatalf("resend-go rejects the request: %v", err)
		}
		s.checkDelivery(t, delivery{path: "/resend", header: h, body: body})
	})

	t.Run("razorpay", func(t *testing.T) {
		anchor(t, "razorpay", func(v vector) http.Header { return bodyHexHeader("X-Razorpay-Signature", "", v.Secret, []byte(v.Body)) })
		secret := s.secrets["razorpay"]
		body := []byte(`{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_` + randomHex(t, 7) + `","amount":5000,"notes":{"n":"caf\u00e9 ☕"}}}},"created_at":1700000000}`)
		h := bodyHexHeader("X-Razorpay-Signature", "", secret, body)
		if !razorpayutils.VerifyWebhookSignature(string(body), h.Get("X-Razorpay-Signature"), secret) {
			t.Fatal("razorpay-go rejects the in-test signature")
		}
		h.Set("X-Razorpay-Event-Id", "evt_"+randomHex(t, 7))
		s.checkDelivery(t, delivery{path: "/razorpay", header: h, body: body})
	})

	t.Run("line", func(t *testing.T) {
		anchor(t, "line", func(v vector) http.Header {
			h := http.Header{}
			h.Set("x-line-signature", base64.StdEncoding.EncodeToString(hmacSHA256(v.Secret, []byte(v.Body))))
			return h
		})
		secret := s.secrets["line"]
		body := []byte(`{"destination":"U` + randomHex(t, 16) + `","events":[{"type":"message","webhookEventId":"01H` + randomHex(t, 10) + `","message":{"type":"text","text":"caf\u00e9 ☕"}}]}`)
		h := http.Header{}
		h.Set("x-line-signature", base64.StdEncoding.EncodeToString(hmacSHA256(secret, body)))
		if !linewebhook.ValidateSignature(secret, h.Get("x-line-signature"), body) {
			t.Fatal("line-bot-sdk-go rejects the in-test signature")
		}
		s.checkDelivery(t, delivery{path: "/line", header: h, body: body})
	})

	t.Run("pagerduty", func(t *testing.T) {
		anchor(t, "pagerduty", func(v vector) http.Header {
			h := http.Header{}
			h.Set("X-PagerDuty-Signature", fmt.Sprintf("v1=%x,v1=%x", hmacSHA256("rotated-out-secret", []byte(v.Body)), hmacSHA256(v.Secret, []byte(v.Body))))
			return h
		})
		secret := s.secrets["pagerduty"]
		id := "01" + strings.ToUpper(randomHex(t, 12))
		body := []byte(`{"event":{"id":"` + id + `","event_type":"incident.triggered","data":{"title":"caf\u00e9 ☕"}}}`)
		// Mid-rotation: one signature by a secret unknown here, one by ours.
		h := http.Header{}
		h.Set("X-PagerDuty-Signature", fmt.Sprintf("v1=%x,v1=%x", hmacSHA256(newSecret(t), body), hmacSHA256(secret, body)))
		req := httptest.NewRequest(http.MethodPost, s.base+"/pagerduty", bytes.NewReader(body))
		req.Header = h.Clone()
		if err := webhookv3.VerifySignature(req, secret); err != nil {
			t.Fatalf("go-pagerduty rejects the in-test signature: %v", err)
		}
		h.Set("Content-Type", "application/json")
		s.checkDelivery(t, delivery{path: "/pagerduty", header: h, body: body})
	})

	t.Run("mailgun", func(t *testing.T) {
		anchor(t, "mailgun", func(v vector) http.Header {
			var p mailgun.WebhookPayload
			if err := json.Unmarshal([]byte(v.Body), &p); err != nil {
				t.Fatal(err)
			}
			if got := mailgunBody(v.Secret, p.Signature.TimeStamp, p.Signature.Token, p.EventData); string(got) != v.Body {
				t.Fatalf("in-test mailgun signer gives %s, vector has %s", got, v.Body)
			}
			return http.Header{"Content-Type": {"application/json"}}
		})
		secret := s.secrets["mailgun"]
		token := randomHex(t, 25)
		body := mailgunBody(secret, strconv.FormatInt(time.Now().Unix(), 10), token,
			[]byte(`{"event":"delivered","id":"`+randomHex(t, 11)+`","message":{"headers":{"subject":"caf\u00e9 ☕"}}}`))
		var p mailgun.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		mg := mailgun.NewMailgun("example.com", "key-unused")
		mg.SetWebhookSigningKey(secret)
		if ok, err := mg.VerifyWebhookSignature(p.Signature); err != nil || !ok {
			t.Fatalf("mailgun-go rejects the in-test signature: %v %v", ok, err)
		}
		h := http.Header{"Content-Type": {"application/json"}}
		// Only the token and timestamp are signed, so the tampered copy
		// changes the token.
		s.checkDelivery(t, delivery{path: "/mailgun", header: h, body: body, tamper: bytes.Index(body, []byte(token))})
	})
}

// svixRequest signs body with the Svix library, under svix-* headers.
func svixRequest(t testing.TB, secret, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	var sig string
	wh, err := svix.NewWebhook(secret)
	if err == nil {
		sig, err = wh.Sign(id, ts, body)
	}
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{
		"Svix-Id":        {id},
		"Svix-Timestamp": {strconv.FormatInt(ts.Unix(), 10)},
		"Svix-Signature": {sig},
		"Content-Type":   {"application/json"},
	}
}

// bodyHexHeader is a header carrying prefix + hex HMAC-SHA256 of the body.
func bodyHexHeader(name, prefix, secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set(name, prefix+hex.EncodeToString(hmacSHA256(secret, body)))
	return h
}

// mailgunBody is Mailgun's JSON webhook: a signature object whose
// signature is hex HMAC-SHA256 of timestamp+token (documentation.mailgun.com,
// Securing webhooks), beside the unsigned event data.
func mailgunBody(secret, ts, token string, eventData []byte) []byte {
	return []byte(`{"signature":{"timestamp":"` + ts + `","token":"` + token + `","signature":"` +
		hex.EncodeToString(hmacSHA256(secret, []byte(ts+token))) + `"},"event-data":` + string(eventData) + `}`)
}
