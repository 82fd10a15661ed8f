package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwtOf builds a compact JWT with a raw header JSON and claims, MACed with
// key, independently of the package's signer.
func jwtOf(key, header string, claims any) string {
	p, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(p)
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

const hs256 = `{"alg":"HS256","typ":"JWT"}`

func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestParseJWTStrict(t *testing.T) {
	const key = "jwt-test-key-0123"
	claims := map[string]any{"iss": "netlify", "sha256": sha256hex(nil)}
	good := jwtOf(key, hs256, claims)
	parts := strings.Split(good, ".")
	for _, c := range []struct {
		name, tok string
		want      error
	}{
		{"alg none", jwtOf(key, `{"alg":"none"}`, claims), ErrInvalidSignature},
		{"alg none, empty signature", strings.Join([]string{base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)), parts[1], ""}, "."), ErrMalformedSignature},
		{"alg HS512", jwtOf(key, `{"alg":"HS512"}`, claims), ErrInvalidSignature},
		{"alg lowercase", jwtOf(key, `{"alg":"hs256"}`, claims), ErrInvalidSignature},
		{"alg RS256", jwtOf(key, `{"alg":"RS256"}`, claims), ErrInvalidSignature},
		{"crit", jwtOf(key, `{"alg":"HS256","crit":["b64"]}`, claims), ErrInvalidSignature},
		{"two segments", parts[0] + "." + parts[1], ErrMalformedSignature},
		{"four segments", good + ".x", ErrMalformedSignature},
		{"padded segment", parts[0] + "=." + parts[1] + "." + parts[2], ErrMalformedSignature},
		{"std base64 alphabet", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+", ErrMalformedSignature},
		{"header not an object", jwtOf(key, `["HS256"]`, claims), ErrMalformedSignature},
		{"payload not an object", jwtOf(key, hs256, []string{"x"}), ErrMalformedSignature},
		{"short signature", parts[0] + "." + parts[1] + "." + parts[2][:20], ErrInvalidSignature},
		{"wrong key", jwtOf("another-key-0123", hs256, claims), ErrInvalidSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustLookup(t, "netlify")
			r := Request{Header: http.Header{"X-Webhook-Signature": {c.tok}}}
			if _, err := s.Verify(r, []Secret{mustSecret(t, s, key)}, time.Unix(1700000000, 0), time.Minute); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
	s := mustLookup(t, "netlify")
	res, err := s.Verify(Request{Header: http.Header{"X-Webhook-Signature": {good}}}, []Secret{mustSecret(t, s, key)}, time.Now(), time.Minute)
	if err != nil || !strings.HasPrefix(res.DedupeKey, "sig:") || res.ID != "" {
		t.Errorf("netlify without jti: %+v %v, want a signature-hash dedupe key", res, err)
	}
}

func TestJWTClaims(t *testing.T) {
	now := time.Unix(1700000000, 0)
	const url = "https://hooks.example.com/q"
	body := []byte(`{"n":1}`)
	sum := sha256.Sum256(body)
	qstash := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "Upstash", "sub": url, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Unix() + 300,
			"jti": "jwt_1", "body": base64.URLEncoding.EncodeToString(sum[:])}
		if mod != nil {
			mod(c)
		}
		return c
	}
	const current, next = "sig_current_key_0123", "sig_next_key_4567890"
	s := mustLookup(t, "qstash")
	secrets := []Secret{mustSecret(t, s, current), mustSecret(t, s, next)}
	verify := func(key string, claims map[string]any, at time.Time, u string, b []byte) (Result, error) {
		r := Request{Header: http.Header{"Upstash-Signature": {jwtOf(key, hs256, claims)}}, Body: b, URL: u}
		return s.Verify(r, secrets, at, time.Minute)
	}
	if res, err := verify(next, qstash(nil), now, url, body); err != nil || res.Secret != 1 || res.DedupeKey != "id:jwt_1" || !res.Timestamp.Equal(now) {
		t.Fatalf("next key: %+v %v", res, err)
	}
	if _, err := verify(current, qstash(func(c map[string]any) { c["body"] = strings.TrimRight(c["body"].(string), "=") }), now, url, body); err != nil {
		t.Errorf("unpadded body claim: %v", err)
	}
	for _, c := range []struct {
		name   string
		claims map[string]any
		at     time.Time
		url    string
		body   []byte
		want   error
	}{
		{"expired past the leeway", qstash(nil), now.Add(5*time.Minute + time.Minute + time.Second), url, body, ErrStaleTimestamp},
		{"not yet valid", qstash(nil), now.Add(-time.Minute - time.Second), url, body, ErrStaleTimestamp},
		{"other URL", qstash(nil), now, url + "/other", body, ErrInvalidSignature},
		{"other body", qstash(nil), now, url, []byte(`{"n":2}`), ErrInvalidSignature},
		{"other issuer", qstash(func(c map[string]any) { c["iss"] = "Upstash2" }), now, url, body, ErrInvalidSignature},
		{"no body claim", qstash(func(c map[string]any) { delete(c, "body") }), now, url, body, ErrInvalidSignature},
		{"fractional exp", qstash(func(c map[string]any) { c["exp"] = 1700000300.5 }), now, url, body, ErrMalformedTimestamp},
		{"string exp", qstash(func(c map[string]any) { c["exp"] = "1700000300" }), now, url, body, ErrMalformedTimestamp},
		{"no iat", qstash(func(c map[string]any) { delete(c, "iat") }), now, url, body, ErrMissingSignature},
		{"jti not a string", qstash(func(c map[string]any) { c["jti"] = 7 }), now, url, body, ErrInvalidSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := verify(current, c.claims, c.at, c.url, c.body); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}

	t.Run("vonage iat bounds the age", func(t *testing.T) {
		v := mustLookup(t, "vonage")
		key := []Secret{mustSecret(t, v, "vonage-secret-0123")}
		tok := jwtOf("vonage-secret-0123", hs256, map[string]any{"iat": now.Unix(), "jti": "j1", "payload_hash": sha256hex(body)})
		r := Request{Header: http.Header{"Authorization": {"Bearer " + tok}}, Body: body}
		if _, err := v.Verify(r, key, now.Add(4*time.Minute), 5*time.Minute); err != nil {
			t.Errorf("4 minutes old: %v", err)
		}
		if _, err := v.Verify(r, key, now.Add(6*time.Minute), 5*time.Minute); !errors.Is(err, ErrStaleTimestamp) {
			t.Errorf("6 minutes old: %v, want stale", err)
		}
		r.Header.Set("Authorization", "Basic "+tok)
		if _, err := v.Verify(r, key, now, 5*time.Minute); !errors.Is(err, ErrMalformedSignature) {
			t.Errorf("not Bearer: %v", err)
		}
	})

	t.Run("messagebird binds the URL hash and allows an empty body", func(t *testing.T) {
		m := mustLookup(t, "messagebird")
		key := []Secret{mustSecret(t, m, "mb-secret-0123456")}
		const u = "https://hooks.example.com/mb?x=1"
		tok := jwtOf("mb-secret-0123456", hs256, map[string]any{"iss": "MessageBird", "nbf": now.Unix(), "exp": now.Unix() + 60,
			"jti": "j2", "url_hash": strings.ToUpper(sha256hex([]byte(u)))})
		r := Request{Header: http.Header{"Messagebird-Signature-Jwt": {tok}}, URL: u}
		if res, err := m.Verify(r, key, now, time.Minute); err != nil || res.ID != "j2" {
			t.Errorf("empty body: %+v %v", res, err)
		}
		r.Body = []byte("x")
		if _, err := m.Verify(r, key, now, time.Minute); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("body without payload_hash: %v", err)
		}
	})
}

// TestJWTOracle checks both directions against golang-jwt/jwt/v5, a
// maintained implementation independent of this package.
func TestJWTOracle(t *testing.T) {
	const key = "sig_oracle_key_0123456"
	now := time.Now().Truncate(time.Second)
	body := []byte(`{"oracle":true}`)
	const url = "https://hooks.example.com/oracle"
	sum := sha256.Sum256(body)
	s := mustLookup(t, "qstash")
	secrets := []Secret{mustSecret(t, s, key)}

	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "Upstash", "sub": url, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": "jwt_oracle", "body": base64.URLEncoding.EncodeToString(sum[:]),
	}).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Verify(Request{Header: http.Header{"Upstash-Signature": {tok}}, Body: body, URL: url}, secrets, now, time.Minute)
	if err != nil || res.ID != "jwt_oracle" {
		t.Fatalf("golang-jwt token: %+v %v", res, err)
	}

	for _, name := range []string{"qstash", "netlify", "vonage", "messagebird"} {
		t.Run("Sign/"+name, func(t *testing.T) {
			s := mustLookup(t, name)
			secrets := []Secret{mustSecret(t, s, key)}
			h, err := s.Sign(Message{ID: "evt_1", Timestamp: now, Body: body, URL: url}, secrets)
			if err != nil {
				t.Fatal(err)
			}
			raw := strings.TrimPrefix(h.Get(s.sigHeader), "Bearer ")
			claims := jwt.MapClaims{}
			if _, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return []byte(key), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now })); err != nil {
				t.Fatalf("golang-jwt rejects Sign's token: %v", err)
			}
			if _, err := s.Verify(Request{Header: h, Body: body, URL: url}, secrets, now, time.Minute); err != nil {
				t.Fatalf("Verify(Sign): %v", err)
			}
		})
	}
}

func FuzzParseJWT(f *testing.F) {
	f.Add(jwtOf("k", hs256, map[string]any{"a": 1}))
	f.Add(jwtOf("k", `{"alg":"none"}`, map[string]any{}))
	f.Add("e30.e30.")
	f.Add("..")
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDAuNX0.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := parseJWT(tok)
		if err != nil {
			return
		}
		if len(p.sig) != sha256.Size || strings.Count(p.signingInput, ".") != 1 {
			t.Fatalf("accepted %q with a %d-byte signature", tok, len(p.sig))
		}
		_, _ = jwtFamily{timeClaim: "iat"}.checkTimes(p, time.Unix(1700000000, 0), time.Minute)
	})
}
