package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// The secrets of the handshake routes (/hs/<preset>) of providers.Caddyfile.
func init() {
	for _, name := range []string{"twitter", "meta", "dropbox", "asana", "trello", "zoom", "twitch", "slack", "mailchimp", "okta"} {
		presetSecrets["hs_"+name] = plainSecret(name)
	}
}

// TestHandshakesEndToEnd: each provider's endpoint check, sent to the built
// binary, is answered by webhook_verify itself as the provider documents,
// and none reaches the upstream. Signed handshakes are verified first (a
// bad signature is refused) and never recorded for dedupe, so a repeated
// check is answered again rather than replayed.
func TestHandshakesEndToEnd(t *testing.T) {
	s := startSite(t)
	sec := func(name string) string { return s.secrets["hs_"+name] }
	// call sends a request and checks that nothing reached the upstream.
	call := func(t *testing.T, method, path string, h http.Header, body []byte) answer {
		t.Helper()
		before := s.up.total()
		a := do(t, method, s.base+path, h, body)
		if n := s.up.total() - before; n != 0 {
			t.Fatalf("%s %s reached the upstream (%d)", method, path, n)
		}
		return a
	}
	expect := func(t *testing.T, a answer, status int, contentType, body string) {
		t.Helper()
		if a.Status != status || a.Body != body || contentType != "" && a.Header.Get("Content-Type") != contentType {
			t.Fatalf("got %d %q (%s), want %d %q (%s)", a.Status, a.Body, a.Header.Get("Content-Type"), status, body, contentType)
		}
	}

	t.Run("twitter CRC", func(t *testing.T) {
		const token = "9b4507b3-9040-4669-9ca3-6b94edb50553"
		m := hmac.New(sha256.New, []byte(sec("twitter")))
		m.Write([]byte(token))
		want, _ := json.Marshal(map[string]string{"response_token": "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil))})
		expect(t, call(t, "GET", "/hs/twitter?crc_token="+token, nil, nil), 200, "application/json", string(want))
		// A token that would be a JSON body gets no MAC.
		a := call(t, "GET", "/hs/twitter?crc_token="+url.QueryEscape(`{"a":1}`), nil, nil)
		if a.Status != 401 {
			t.Fatalf("JSON-shaped crc_token: got %d %s, want 401", a.Status, a.Body)
		}
	})

	t.Run("meta hub.challenge", func(t *testing.T) {
		q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {sec("meta")}, "hub.challenge": {"1158201444"}}
		expect(t, call(t, "GET", "/hs/meta?"+q.Encode(), nil, nil), 200, "text/plain; charset=utf-8", "1158201444")
		q.Set("hub.verify_token", "not-the-secret")
		if a := call(t, "GET", "/hs/meta?"+q.Encode(), nil, nil); a.Status != 401 {
			t.Fatalf("wrong verify token: got %d %s, want 401", a.Status, a.Body)
		}
	})

	t.Run("dropbox challenge", func(t *testing.T) {
		a := call(t, "GET", "/hs/dropbox?challenge=Xk3pQ8vL2nYz", nil, nil)
		expect(t, a, 200, "text/plain; charset=utf-8", "Xk3pQ8vL2nYz")
		if a.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatal("echoed challenge without X-Content-Type-Options: nosniff")
		}
		if a := call(t, "GET", "/hs/dropbox?challenge=%3Cscript%3E", nil, nil); a.Status != 401 {
			t.Fatalf("markup challenge: got %d %s, want 401", a.Status, a.Body)
		}
	})

	t.Run("asana X-Hook-Secret, then a signed event", func(t *testing.T) {
		h := http.Header{}
		h.Set("X-Hook-Secret", "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81")
		a := call(t, "POST", "/hs/asana", h, nil)
		if a.Status != 200 || a.Header.Get("X-Hook-Secret") != h.Get("X-Hook-Secret") {
			t.Fatalf("handshake: got %d %v", a.Status, a.Header)
		}
		// Events are signed with the secret the route is configured with.
		body := []byte(`{"events":[{"action":"changed","resource":{"gid":"` + randomHex(t, 8) + `","resource_type":"task"}}]}`)
		ev := http.Header{}
		ev.Set("X-Hook-Signature", hex.EncodeToString(hmacSHA256(sec("asana"), body)))
		ev.Set("Content-Type", "application/json")
		s.checkDelivery(t, delivery{path: "/hs/asana", header: ev, body: body})
	})

	t.Run("trello HEAD", func(t *testing.T) {
		expect(t, call(t, "HEAD", "/hs/trello", nil, nil), 200, "", "")
	})

	t.Run("zoom url_validation", func(t *testing.T) {
		plain := "qgg8vlvZRS6UYooatFL8Aw" + randomHex(t, 4)
		body := []byte(`{"payload":{"plainToken":"` + plain + `"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`)
		ts := time.Now().Unix()
		h := http.Header{}
		h.Set("x-zm-request-timestamp", string(unix(ts)))
		h.Set("x-zm-signature", "v0="+hex.EncodeToString(hmacSHA256(sec("zoom"), []byte("v0:"), unix(ts), []byte(":"), body)))
		h.Set("Content-Type", "application/json")
		enc := hex.EncodeToString(hmacSHA256(sec("zoom"), []byte(plain)))
		want := fmt.Sprintf(`{"encryptedToken":%q,"plainToken":%q}`, enc, plain)
		expect(t, call(t, "POST", "/hs/zoom", h, body), 200, "application/json", want)
		// Zoom re-validates every 72 hours: never a stored duplicate.
		a := call(t, "POST", "/hs/zoom", h, body)
		expect(t, a, 200, "application/json", want)
		if a.Header.Get("Webhook-Duplicate") != "" {
			t.Fatal("a handshake was replayed from the dedupe store")
		}
		h.Set("x-zm-signature", "v0="+hex.EncodeToString(hmacSHA256("not-the-secret", []byte("v0:"), unix(ts), []byte(":"), body)))
		if a := call(t, "POST", "/hs/zoom", h, body); a.Status != 401 || errorCode(t, a) != "invalid_signature" {
			t.Fatalf("unsigned url_validation: got %d %s", a.Status, a.Body)
		}
	})

	t.Run("twitch webhook_callback_verification", func(t *testing.T) {
		id := "e76c6bd4-55c9-4987-8304-" + randomHex(t, 6)
		ts := time.Now().UTC().Format(time.RFC3339Nano)
		body := []byte(`{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387","type":"channel.follow","status":"webhook_callback_verification_pending"}}`)
		h := http.Header{}
		h.Set("Twitch-Eventsub-Message-Id", id)
		h.Set("Twitch-Eventsub-Message-Timestamp", ts)
		h.Set("Twitch-Eventsub-Message-Type", "webhook_callback_verification")
		h.Set("Twitch-Eventsub-Message-Signature", "sha256="+hex.EncodeToString(hmacSHA256(sec("twitch"), []byte(id), []byte(ts), body)))
		h.Set("Content-Type", "application/json")
		expect(t, call(t, "POST", "/hs/twitch", h, body), 200, "text/plain; charset=utf-8", "pogchamp-kappa-360noscope-vohiyo")
	})

	t.Run("slack url_verification", func(t *testing.T) {
		body := []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
		h := slackHeader(sec("slack"), time.Now().Unix(), body)
		h.Set("Content-Type", "application/json")
		expect(t, call(t, "POST", "/hs/slack", h, body), 200, "text/plain; charset=utf-8", "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
	})

	t.Run("mailchimp validation GET", func(t *testing.T) {
		expect(t, call(t, "GET", "/hs/mailchimp?secret="+url.QueryEscape(sec("mailchimp")), nil, nil), 200, "", "")
		if a := call(t, "GET", "/hs/mailchimp?secret=guess", nil, nil); a.Status != 401 {
			t.Fatalf("wrong secret: got %d %s, want 401", a.Status, a.Body)
		}
	})

	t.Run("okta verification", func(t *testing.T) {
		h := http.Header{}
		h.Set("Authorization", sec("okta"))
		h.Set("X-Okta-Verification-Challenge", "JhSx5Npt3y7B4ts0aF4wRhu0LvOs7dQpmxoTbpAN")
		expect(t, call(t, "GET", "/hs/okta", h, nil), 200, "application/json", `{"verification":"JhSx5Npt3y7B4ts0aF4wRhu0LvOs7dQpmxoTbpAN"}`)
		h.Set("Authorization", "guess")
		if a := call(t, "GET", "/hs/okta", h, nil); a.Status != 401 {
			t.Fatalf("wrong token: got %d %s, want 401", a.Status, a.Body)
		}
	})
}

// total returns how many requests reached the upstream on any path.
func (u *upstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.requests)
}
