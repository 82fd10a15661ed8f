package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookguard/hookguard/internal/wait"
)

// site is a Caddy running caddyfile/providers.Caddyfile in front of a
// recording upstream, with a fresh secret per preset.
type site struct {
	caddy   *caddy
	up      *upstream
	base    string
	env     map[string]string
	secrets map[string]string
}

// newSecret returns a random whsec_ secret of 24 bytes.
func newSecret(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func startSite(t testing.TB) *site {
	t.Helper()
	s := &site{up: newUpstream(t), secrets: map[string]string{}}
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.base = "http://" + listen
	ghFile := filepath.Join(t.TempDir(), "github-secret")
	s.secrets["github"] = "gh-" + randomHex(t, 16)
	if err := os.WriteFile(ghFile, []byte(s.secrets["github"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"standard", "standard_previous", "standard_retired", "svix", "stripe", "hmac", "foil"} {
		s.secrets[name] = newSecret(t)
	}
	for _, name := range []string{"gitlab", "slack", "shopify", "paddle", "twilio", "enforgate", "gately"} {
		s.secrets[name] = name + "-" + randomHex(t, 16)
	}
	s.secrets["discord"] = discordPublicKeyHex
	for name, secret := range presetSecrets {
		s.secrets[name] = secret(t)
	}
	s.env = map[string]string{
		"HG_LISTEN":      listen,
		"HG_UPSTREAM":    s.up.addr,
		"HG_DATA":        filepath.Join(t.TempDir(), "badger"),
		"HG_GITHUB_FILE": ghFile,
	}
	for name, v := range s.secrets {
		if name != "github" {
			s.env["HG_"+strings.ToUpper(name)] = v
		}
	}
	s.caddy = startCaddy(t, repoFile("caddyfile", "providers.Caddyfile"), s.env, listen)
	return s
}

// restart stops Caddy (gracefully, or with SIGKILL) and starts it again
// on the same data directory.
func (s *site) restart(t testing.TB, kill bool) {
	t.Helper()
	if kill {
		s.caddy.kill()
	} else {
		s.caddy.stop()
	}
	s.caddy = startCaddy(t, repoFile("caddyfile", "providers.Caddyfile"), s.env, strings.TrimPrefix(s.base, "http://"))
}

// standardRequest signs body with the Standard Webhooks library.
func standardRequest(t testing.TB, secret, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", fmt.Sprint(ts.Unix()))
	h.Set("webhook-signature", sig)
	h.Set("Content-Type", "application/json")
	return h
}

func newID(t testing.TB) string { return "msg_" + randomHex(t, 8) }

func eventBody(id string) []byte {
	return []byte(fmt.Sprintf(`{"type":"invoice.paid","data":{"id":%q,"amount":4200,"note":"caf\u00e9 ☕"}}`, id))
}

// errorCode returns the JSON error code of a refusal.
func errorCode(t testing.TB, a answer) string {
	t.Helper()
	var e struct{ Error, Message string }
	if err := json.Unmarshal([]byte(a.Body), &e); err != nil || e.Error == "" || e.Message == "" {
		t.Fatalf("want a JSON error body, got %d %q", a.Status, a.Body)
	}
	return e.Error
}

func TestStandardWebhooksEndToEnd(t *testing.T) {
	s := startSite(t)
	url := s.base + "/standard"
	secret := s.secrets["standard"]
	now := time.Now()

	t.Run("valid request reaches the upstream byte for byte", func(t *testing.T) {
		id := newID(t)
		body := eventBody(id)
		a := send(t, url, standardRequest(t, secret, id, now, body), body)
		if a.Status != 200 {
			t.Fatalf("status %d %s", a.Status, a.Body)
		}
		got := s.up.last(t, "/standard")
		if string(got.Body) != string(body) || got.ContentLength != int64(len(body)) {
			t.Fatalf("upstream got %d bytes %q (Content-Length %d), want %q", len(got.Body), got.Body, got.ContentLength, body)
		}
	})

	refusals := []struct {
		name   string
		mutate func(h http.Header, body []byte) (http.Header, []byte)
		status int
		code   string
	}{
		{"tampered body", func(h http.Header, b []byte) (http.Header, []byte) {
			b = append([]byte(nil), b...)
			b[len(b)-2] ^= 1
			return h, b
		}, 401, "invalid_signature"},
		{"pretty-printed body", func(h http.Header, b []byte) (http.Header, []byte) {
			var v any
			_ = json.Unmarshal(b, &v)
			pretty, _ := json.MarshalIndent(v, "", "  ")
			return h, pretty
		}, 401, "invalid_signature"},
		{"changed id", func(h http.Header, b []byte) (http.Header, []byte) {
			h.Set("webhook-id", "msg_other")
			return h, b
		}, 401, "invalid_signature"},
		{"missing signature", func(h http.Header, b []byte) (http.Header, []byte) {
			h.Del("webhook-signature")
			return h, b
		}, 401, "missing_signature"},
		{"missing timestamp", func(h http.Header, b []byte) (http.Header, []byte) {
			h.Del("webhook-timestamp")
			return h, b
		}, 401, "missing_signature"},
		{"empty v1", func(h http.Header, b []byte) (http.Header, []byte) {
			h.Set("webhook-signature", "v1,")
			return h, b
		}, 401, "invalid_signature"},
		{"unknown version only", func(h http.Header, b []byte) (http.Header, []byte) {
			h.Set("webhook-signature", strings.Replace(h.Get("webhook-signature"), "v1,", "v1a,", 1))
			return h, b
		}, 401, "invalid_signature"},
		{"malformed timestamp", func(h http.Header, b []byte) (http.Header, []byte) {
			h.Set("webhook-timestamp", "1.7e9")
			return h, b
		}, 400, "malformed_timestamp"},
		{"duplicate signature headers", func(h http.Header, b []byte) (http.Header, []byte) {
			h.Add("webhook-signature", "v1,AAAA")
			return h, b
		}, 400, "malformed_signature"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			id := newID(t)
			body := eventBody(id)
			h, b := tc.mutate(standardRequest(t, secret, id, now, body), body)
			a := send(t, url, h, b)
			if a.Status != tc.status || errorCode(t, a) != tc.code {
				t.Fatalf("got %d %s, want %d %s", a.Status, a.Body, tc.status, tc.code)
			}
			if n := s.up.count("/standard"); n > 1 {
				t.Fatalf("a refused request reached the upstream (%d requests)", n)
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		id := newID(t)
		body := eventBody(id)
		a := send(t, url, standardRequest(t, newSecret(t), id, now, body), body)
		if a.Status != 401 || errorCode(t, a) != "invalid_signature" {
			t.Fatalf("got %d %s", a.Status, a.Body)
		}
	})

	t.Run("timestamp window", func(t *testing.T) {
		for _, tc := range []struct {
			offset time.Duration
			status int
		}{
			{-301 * time.Second, 401}, {+301 * time.Second, 401},
			{-290 * time.Second, 200}, {+290 * time.Second, 200},
		} {
			id := newID(t)
			body := eventBody(id)
			a := send(t, url, standardRequest(t, secret, id, time.Now().Add(tc.offset), body), body)
			if a.Status != tc.status {
				t.Fatalf("offset %s: got %d %s, want %d", tc.offset, a.Status, a.Body, tc.status)
			}
			if tc.status == 401 && errorCode(t, a) != "stale_timestamp" {
				t.Fatalf("offset %s: got %s", tc.offset, a.Body)
			}
		}
	})

	t.Run("rotation", func(t *testing.T) {
		for name, want := range map[string]int{"standard_previous": 200, "standard_retired": 401} {
			id := newID(t)
			body := eventBody(id)
			a := send(t, url, standardRequest(t, s.secrets[name], id, now, body), body)
			if a.Status != want {
				t.Fatalf("%s: got %d %s, want %d", name, a.Status, a.Body, want)
			}
		}
	})

	t.Run("multi-signature header", func(t *testing.T) {
		id := newID(t)
		body := eventBody(id)
		h := standardRequest(t, secret, id, now, body)
		bad := "v1," + base64.StdEncoding.EncodeToString(make([]byte, 32))
		h.Set("webhook-signature", bad+" "+h.Get("webhook-signature")+" v2,"+bad[3:])
		if a := send(t, url, h, body); a.Status != 200 {
			t.Fatalf("got %d %s", a.Status, a.Body)
		}
	})

	t.Run("oversize body", func(t *testing.T) {
		id := newID(t)
		body := []byte(`{"pad":"` + strings.Repeat("x", 2048) + `"}`)
		a := send(t, s.base+"/standard/small", standardRequest(t, secret, id, now, body), body)
		if a.Status != 413 || errorCode(t, a) != "body_too_large" {
			t.Fatalf("got %d %s", a.Status, a.Body)
		}
	})

	t.Run("duplicate replays the first answer", func(t *testing.T) {
		id := newID(t)
		body := eventBody(id)
		before := s.up.count("/standard")
		first := send(t, url, standardRequest(t, secret, id, now, body), body)
		second := send(t, url, standardRequest(t, secret, id, time.Now(), body), body)
		if first.Status != 200 || second.Status != 200 || second.Body != first.Body {
			t.Fatalf("first %d %q, second %d %q", first.Status, first.Body, second.Status, second.Body)
		}
		if second.Header.Get("Webhook-Duplicate") != "true" || first.Header.Get("Webhook-Duplicate") != "" {
			t.Fatalf("Webhook-Duplicate: first %q, second %q", first.Header.Get("Webhook-Duplicate"), second.Header.Get("Webhook-Duplicate"))
		}
		if second.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("replayed Content-Type %q", second.Header.Get("Content-Type"))
		}
		if n := s.up.count("/standard") - before; n != 1 {
			t.Fatalf("upstream saw %d deliveries, want 1", n)
		}
	})

	t.Run("dedupe off forwards duplicates", func(t *testing.T) {
		id := newID(t)
		body := eventBody(id)
		for range 2 {
			if a := send(t, s.base+"/standard/nodedupe", standardRequest(t, secret, id, now, body), body); a.Status != 200 {
				t.Fatalf("got %d %s", a.Status, a.Body)
			}
		}
		if n := s.up.count("/standard/nodedupe"); n != 2 {
			t.Fatalf("upstream saw %d, want 2", n)
		}
	})

	// reliability.md case 30: an upstream 500 or a reset connection.
	for _, c := range []struct {
		name             string
		upstream, answer int
	}{{"upstream 500 releases the claim", 500, 500}, {"upstream reset releases the claim", resetConnection, 502}} {
		t.Run(c.name, func(t *testing.T) {
			id := newID(t)
			body := eventBody(id)
			s.up.set(c.upstream, nil)
			a := send(t, url, standardRequest(t, secret, id, now, body), body)
			s.up.set(200, nil)
			if a.Status != c.answer {
				t.Fatalf("got %d %s, want %d", a.Status, a.Body, c.answer)
			}
			before := s.up.count("/standard")
			if a := send(t, url, standardRequest(t, secret, id, time.Now(), body), body); a.Status != 200 || a.Header.Get("Webhook-Duplicate") != "" {
				t.Fatalf("retry got %d %s dup=%q", a.Status, a.Body, a.Header.Get("Webhook-Duplicate"))
			}
			if n := s.up.count("/standard") - before; n != 1 {
				t.Fatalf("retry was not forwarded (%d)", n)
			}
		})
	}

	t.Run("forged request cannot poison a genuine id", func(t *testing.T) {
		id := newID(t)
		body := eventBody(id)
		forged := standardRequest(t, newSecret(t), id, now, body)
		if a := send(t, url, forged, body); a.Status != 401 {
			t.Fatalf("forged got %d", a.Status)
		}
		before := s.up.count("/standard")
		if a := send(t, url, standardRequest(t, secret, id, now, body), body); a.Status != 200 || a.Header.Get("Webhook-Duplicate") != "" {
			t.Fatalf("genuine got %d %s", a.Status, a.Body)
		}
		if s.up.count("/standard")-before != 1 {
			t.Fatal("genuine request was not forwarded")
		}
	})

	t.Run("concurrent identical deliveries forward once", func(t *testing.T) {
		id := newID(t)
		body := eventBody(id)
		h := standardRequest(t, secret, id, now, body)
		hold := make(chan struct{})
		s.up.set(200, hold)
		before := s.up.count("/standard")
		var wg sync.WaitGroup
		var settled atomic.Int32
		answers := make([]answer, 16)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = send(t, url, h, body)
				settled.Add(1)
			}()
		}
		// Wait for the one forwarded request to be held upstream, and
		// for the other 15 to be answered, before letting it go.
		waitFor(t, func() bool { return s.up.count("/standard") > before && settled.Load() >= 15 })
		close(hold)
		wg.Wait()
		s.up.set(200, nil)
		if n := s.up.count("/standard") - before; n != 1 {
			t.Fatalf("upstream saw %d deliveries, want 1", n)
		}
		ok, inFlight := 0, 0
		for _, a := range answers {
			switch {
			case a.Status == 200:
				ok++
			case a.Status == 409 && errorCode(t, a) == "duplicate_in_flight" && a.Header.Get("Retry-After") != "":
				inFlight++
			default:
				t.Fatalf("unexpected answer %d %s", a.Status, a.Body)
			}
		}
		if ok < 1 || ok+inFlight != 16 {
			t.Fatalf("%d ok, %d in flight", ok, inFlight)
		}
	})

	t.Run("metrics and logs", func(t *testing.T) {
		m := s.caddy.metrics()
		for _, want := range []string{
			`hookguard_verify_requests_total{result="verified",scheme="standard"}`,
			`hookguard_verify_requests_total{result="invalid_signature",scheme="standard"}`,
			`hookguard_verify_requests_total{result="body_too_large",scheme="standard"}`,
			`hookguard_verify_dedupe_total{outcome="duplicate_done",scheme="standard"}`,
			`hookguard_verify_dedupe_total{outcome="duplicate_in_flight",scheme="standard"}`,
			`hookguard_verify_dedupe_total{outcome="released",scheme="standard"}`,
			`hookguard_verify_duration_seconds_bucket{scheme="standard",le=`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		logs := s.caddy.log.String()
		for name, secret := range s.secrets {
			if strings.Contains(logs, strings.TrimPrefix(secret, "whsec_")) {
				t.Errorf("the log carries the %s secret", name)
			}
		}
	})

	t.Run("dedupe survives a restart", func(t *testing.T) {
		id := newID(t)
		body := eventBody(id)
		if a := send(t, url, standardRequest(t, secret, id, now, body), body); a.Status != 200 {
			t.Fatalf("got %d", a.Status)
		}
		s.restart(t, false)
		a := send(t, url, standardRequest(t, secret, id, time.Now(), body), body)
		if a.Status != 200 || a.Header.Get("Webhook-Duplicate") != "true" {
			t.Fatalf("after restart got %d dup=%q", a.Status, a.Header.Get("Webhook-Duplicate"))
		}
	})
}

// waitFor polls cond until it holds, or fails the test after 20s.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	wait.Until(t, 20*time.Second, cond)
}

// discordPublicKeyHex is the public half of discordKey, the Ed25519 key
// the tests sign Discord interactions with.
var discordPublicKeyHex = hex.EncodeToString(discordKey.Public().(ed25519.PublicKey))

var discordKey = ed25519.NewKeyFromSeed([]byte("hookguard-e2e-discord-test-seed!"))

// A secret taken out of the config stops verifying as soon as the reload
// is done, while the others go on verifying (reliability.md case 12).
func TestRemovedSecretStopsAfterReload(t *testing.T) {
	s := startSite(t)
	url := s.base + "/standard"
	status := func(secret string) int {
		id := newID(t)
		body := eventBody(id)
		return send(t, url, standardRequest(t, secret, id, time.Now(), body), body).Status
	}
	if got := status(s.secrets["standard_previous"]); got != 200 {
		t.Fatalf("the previous secret before the reload: %d", got)
	}
	s.caddy.reloadWithout("providers.Caddyfile", "\t\t\tsecret {$HG_STANDARD_PREVIOUS}\n")
	if got := status(s.secrets["standard_previous"]); got != 401 {
		t.Fatalf("the removed secret after the reload: %d, want 401", got)
	}
	if got := status(s.secrets["standard"]); got != 200 {
		t.Fatalf("the current secret after the reload: %d", got)
	}
}
