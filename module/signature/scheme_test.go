package signature

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	names := Names()
	if !sort.StringsAreSorted(names) {
		t.Errorf("Names() not sorted: %v", names)
	}
	for _, want := range []string{"discord", "enforgate", "foil", "gately", "github", "gitlab", "paddle", "shopify", "slack", "standard", "stripe", "svix", "twilio"} {
		if _, ok := Lookup(want); !ok {
			t.Errorf("preset %s missing", want)
		}
	}
	if _, ok := Lookup("hmac"); ok {
		t.Error("hmac is not a preset")
	}
}

// testSecret is a valid secret string for the scheme's key format: a
// public key for Ed25519, otherwise an HMAC key.
func testSecret(s *Scheme, i int) string {
	key := []byte(fmt.Sprintf("round-trip-secret-%d", i))
	if s.alg == algEd25519 {
		key = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	}
	switch s.keyEnc {
	case keyBase64, keyBase64V1:
		return "whsec_" + base64.StdEncoding.EncodeToString(key)
	case keyHex:
		return hex.EncodeToString(key)
	}
	return string(key)
}

func TestLookupReturnsCopies(t *testing.T) {
	a := mustLookup(t, "github")
	a.Name = "changed"
	if b := mustLookup(t, "github"); b.Name != "github" || a == b {
		t.Errorf("Lookup shares state: %q", b.Name)
	}
}

func TestHeadersAndTimestamp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		ts      bool
	}{
		{"standard", []string{"webhook-signature", "webhook-timestamp", "webhook-id"}, true},
		{"svix", []string{"svix-signature", "svix-timestamp", "svix-id"}, true},
		{"stripe", []string{"Stripe-Signature"}, true},
		{"github", []string{"X-Hub-Signature-256"}, false},
		{"gitlab", []string{"X-Gitlab-Token"}, false},
		{"slack", []string{"X-Slack-Signature", "X-Slack-Request-Timestamp"}, true},
		{"shopify", []string{"X-Shopify-Hmac-Sha256"}, false},
		{"paddle", []string{"Paddle-Signature"}, true},
		{"twilio", []string{"X-Twilio-Signature"}, false},
		{"discord", []string{"X-Signature-Ed25519", "X-Signature-Timestamp"}, true},
		{"foil", []string{"X-Foil-Signature", "X-Foil-Timestamp"}, true},
		{"enforgate", []string{"x-enforgate-signature", "x-enforgate-timestamp"}, true},
		{"gately", []string{"X-Gately-Signature"}, false},
	} {
		s := mustLookup(t, tc.name)
		if got := s.Headers(); !reflect.DeepEqual(got, tc.headers) {
			t.Errorf("%s: Headers() = %v", tc.name, got)
		}
		if s.HasTimestamp() != tc.ts {
			t.Errorf("%s: HasTimestamp() = %v", tc.name, s.HasTimestamp())
		}
	}
}

func TestParseSecret(t *testing.T) {
	std := mustLookup(t, "standard")
	for _, v := range []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_QUJDREVGR0g=", "whsec_QUJDREVGR0g"} {
		sec, err := std.ParseSecret(v)
		if err != nil {
			t.Errorf("standard %q: %v", v, err)
			continue
		}
		want, _ := base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimPrefix(v, "whsec_"), "="))
		if string(sec.key) != string(want) {
			t.Errorf("standard %q: wrong key", v)
		}
	}
	stripe := mustLookup(t, "stripe")
	sec := mustSecret(t, stripe, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if string(sec.key) != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" {
		t.Error("stripe must use the whole whsec_ string as the key")
	}
	sum := sha256.Sum256([]byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
	if sec.Fingerprint() != hex.EncodeToString(sum[:4]) || len(sec.Fingerprint()) != 8 {
		t.Errorf("Fingerprint() = %q", sec.Fingerprint())
	}
	if mustSecret(t, std, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").Fingerprint() != sec.Fingerprint() {
		t.Error("the fingerprint is of the configured string, whatever the scheme")
	}

	hexS, err := NewHMAC(HMACConfig{SignatureHeader: "X-Sig", SecretEncoding: "hex"})
	if err != nil {
		t.Fatal(err)
	}
	if sec := mustSecret(t, hexS, "00FF00ff00ff00ff"); hex.EncodeToString(sec.key) != "00ff00ff00ff00ff" {
		t.Errorf("hex key %x", sec.key)
	}
	for _, bad := range []string{"00ff00ff00ff00f", "00ff00ff00ff00fg", "00ff00ff00ff00"} {
		if _, err := hexS.ParseSecret(bad); err == nil {
			t.Errorf("hex %q accepted", bad)
		}
	}
	disc := mustLookup(t, "discord")
	if _, err := disc.ParseSecret(strings.Repeat("AB", 32)); err != nil {
		t.Errorf("discord upper-case key: %v", err)
	}
}

func TestNewHMACValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    HMACConfig
	}{
		{"no signature header", HMACConfig{}},
		{"bad header name", HMACConfig{SignatureHeader: "X Sig"}},
		{"bad timestamp header name", HMACConfig{SignatureHeader: "X-Sig", TimestampHeader: "X:TS", SignedPayload: "{timestamp}.{body}"}},
		{"unknown algorithm", HMACConfig{SignatureHeader: "X-Sig", Algorithm: "md5"}},
		{"unknown encoding", HMACConfig{SignatureHeader: "X-Sig", Encoding: "base32"}},
		{"unknown secret encoding", HMACConfig{SignatureHeader: "X-Sig", SecretEncoding: "rot13"}},
		{"unknown token", HMACConfig{SignatureHeader: "X-Sig", SignedPayload: "{ts}.{body}"}},
		{"unbalanced brace", HMACConfig{SignatureHeader: "X-Sig", SignedPayload: "{body"}},
		{"stray close brace", HMACConfig{SignatureHeader: "X-Sig", SignedPayload: "}{body}"}},
		{"no body", HMACConfig{SignatureHeader: "X-Sig", SignedPayload: "{method}{url}"}},
		{"id header not in template", HMACConfig{SignatureHeader: "X-Sig", IDHeader: "X-Id"}},
		{"{id} without id header", HMACConfig{SignatureHeader: "X-Sig", SignedPayload: "{id}.{body}"}},
		{"timestamp header not in template", HMACConfig{SignatureHeader: "X-Sig", TimestampHeader: "X-TS"}},
		{"{timestamp} without header", HMACConfig{SignatureHeader: "X-Sig", SignedPayload: "{timestamp}.{body}"}},
		{"id header and id field", HMACConfig{SignatureHeader: "X-Sig", IDHeader: "X-Id", IDField: "id", SignedPayload: "{id}.{body}"}},
		{"bad id field", HMACConfig{SignatureHeader: "X-Sig", IDField: "data..id"}},
		{"same headers", HMACConfig{SignatureHeader: "X-Sig", TimestampHeader: "x-sig", SignedPayload: "{timestamp}{body}"}},
	} {
		if _, err := NewHMAC(tc.c); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// TestNewHMACMatchesReference signs with generic configs and checks the
// result against HMACs computed here directly.
func TestNewHMACMatchesReference(t *testing.T) {
	body := []byte(`{"data":{"id":"evt_9"},"n":1}`)
	now := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name   string
		c      HMACConfig
		secret string
		key    []byte
		alg    func() hash.Hash
		msg    string
		header string // expected header value, given the encoded MAC
		enc    func([]byte) string
		id     string
	}{
		{"github style", HMACConfig{SignatureHeader: "X-Hub-Signature-256", Prefix: "sha256="}, "gh-secret-1234", []byte("gh-secret-1234"), sha256.New,
			string(body), "sha256=", hex.EncodeToString, ""},
		{"sha1 base64", HMACConfig{SignatureHeader: "X-Sig", Algorithm: "SHA1", Encoding: "base64"}, "sha1-secret-1", []byte("sha1-secret-1"), sha1.New,
			string(body), "", base64.StdEncoding.EncodeToString, ""},
		{"sha512 timestamp id field", HMACConfig{SignatureHeader: "X-Sig", TimestampHeader: "X-TS", SignedPayload: "{timestamp}:{method}:{url}:{body}", Algorithm: "sha512", IDField: "data.id"},
			"sha512-secret", []byte("sha512-secret"), sha512.New, "1700000000:POST:https://example.com/in?a=1:" + string(body), "", hex.EncodeToString, "evt_9"},
		{"standard-like id header", HMACConfig{SignatureHeader: "X-Sig", TimestampHeader: "X-TS", IDHeader: "X-Id", SignedPayload: "{id}.{timestamp}.{body}", Encoding: "base64", Prefix: "v1,", SecretEncoding: "base64"},
			"whsec_QUJDREVGR0hJSktM", []byte("ABCDEFGHIJKL"), sha256.New, "msg_7.1700000000." + string(body), "v1,", base64.StdEncoding.EncodeToString, "msg_7"},
		{"hex key", HMACConfig{SignatureHeader: "X-Sig", SecretEncoding: "hex"}, "0102030405060708", []byte{1, 2, 3, 4, 5, 6, 7, 8}, sha256.New,
			string(body), "", hex.EncodeToString, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewHMAC(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			secrets := []Secret{mustSecret(t, s, tc.secret)}
			m := Message{ID: "msg_7", Timestamp: now, Body: body, Method: "POST", URL: "https://example.com/in?a=1"}
			h, err := s.Sign(m, secrets)
			if err != nil {
				t.Fatal(err)
			}
			mac := hmac.New(tc.alg, tc.key)
			mac.Write([]byte(tc.msg))
			want := tc.header + tc.enc(mac.Sum(nil))
			if got := h.Get(tc.c.SignatureHeader); got != want {
				t.Fatalf("header %q, want %q", got, want)
			}
			r := Request{Header: h, Body: body, Method: "POST", URL: m.URL}
			res, err := s.Verify(r, secrets, now, time.Minute)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.ID != tc.id {
				t.Errorf("ID %q, want %q", res.ID, tc.id)
			}
			r.Method = "PUT"
			if _, err := s.Verify(r, secrets, now, time.Minute); strings.Contains(tc.msg, "POST") && !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("changed method: %v", err)
			}
		})
	}
}

// TestSignRoundTrip signs with two secrets for every preset that can sign
// and verifies with each: list and pair formats carry both signatures,
// the others sign with the first secret only.
func TestSignRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{"id":"evt_rt","event_id":"evt_rt","type":"t"}`)
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			s := mustLookup(t, name)
			if s.custom != nil {
				t.Skip("a custom family tests its own signing")
			}
			a, b := testSecret(s, 0), testSecret(s, 1)
			if !s.CanSign() {
				_, err := s.Sign(Message{Body: body, Timestamp: now}, []Secret{mustSecret(t, s, a)})
				if !errors.Is(err, ErrCannotSign) {
					t.Errorf("Sign: %v, want ErrCannotSign", err)
				}
				return
			}
			secrets := []Secret{mustSecret(t, s, a), mustSecret(t, s, b)}
			m := Message{ID: "msg_rt", Timestamp: now, Body: body, Method: "POST", URL: "https://example.com/hook"}
			h, err := s.Sign(m, secrets)
			if err != nil {
				t.Fatal(err)
			}
			for i := range secrets {
				res, err := s.Verify(Request{Header: h, Body: body, Method: "POST", URL: m.URL}, secrets[i:i+1], now, time.Minute)
				if i > 0 && !s.layout.multi() {
					if !errors.Is(err, ErrInvalidSignature) {
						t.Errorf("secret %d should not have signed: %v", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Verify with secret %d: %v", i, err)
				}
				if s.HasTimestamp() && !res.Timestamp.Equal(now) {
					t.Errorf("Timestamp %v", res.Timestamp)
				}
			}
		})
	}
}

func TestSignHeaders(t *testing.T) {
	now := time.Unix(1700000000, 123e6)
	body := []byte(`{"id":"evt_f"}`)
	foil := mustLookup(t, "foil")
	h, err := foil.Sign(Message{ID: "evt_f", Timestamp: now, Body: body}, []Secret{mustSecret(t, foil, "whsec_foil_secret")})
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("X-Foil-Event") != "evt_f" || h.Get("X-Foil-Timestamp") != "1700000000" {
		t.Errorf("foil headers %v", h)
	}
	enf := mustLookup(t, "enforgate")
	h, err = enf.Sign(Message{Timestamp: now, Body: body}, []Secret{mustSecret(t, enf, "enforgate-secret")})
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("x-enforgate-timestamp") != "1700000000123" {
		t.Errorf("enforgate timestamp %q, want milliseconds", h.Get("x-enforgate-timestamp"))
	}
	gl := mustLookup(t, "gitlab")
	h, err = gl.Sign(Message{Body: body}, []Secret{mustSecret(t, gl, "gitlab-token-1"), mustSecret(t, gl, "gitlab-token-2")})
	if err != nil || h.Get("X-Gitlab-Token") != "gitlab-token-1" {
		t.Errorf("gitlab: %v %v", h, err)
	}

	std := mustLookup(t, "standard")
	secrets := []Secret{mustSecret(t, std, swSecret)}
	if _, err := std.Sign(Message{Timestamp: now, Body: body}, secrets); err == nil {
		t.Error("standard signed without an ID")
	}
	if _, err := std.Sign(Message{ID: "m"}, secrets); err == nil {
		t.Error("standard signed without a timestamp")
	}
	if _, err := std.Sign(Message{ID: "m", Timestamp: now}, nil); !errors.Is(err, ErrNoSecret) {
		t.Errorf("no secrets: %v", err)
	}
	if _, err := std.Sign(Message{ID: "m", Timestamp: now}, []Secret{{}}); !errors.Is(err, ErrNoSecret) {
		t.Errorf("zero secret: %v", err)
	}
}

func TestDedupeKey(t *testing.T) {
	now := time.Unix(1700000000, 0)
	gh := mustLookup(t, "github")
	ghSecrets := []Secret{mustSecret(t, gh, "dedupe-secret")}
	body := []byte(`{"action":"opened"}`)
	h, _ := gh.Sign(Message{Body: body}, ghSecrets)
	h.Set("X-GitHub-Delivery", "delivery-1")
	res, err := gh.Verify(Request{Header: h, Body: body}, ghSecrets, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	mac := refMAC("github", "dedupe-secret", "", "", body)
	sum := sha256.Sum256(mac)
	if res.DedupeKey != "sig:"+hex.EncodeToString(sum[:]) || res.ID != "" {
		t.Errorf("github result %+v", res)
	}
	h.Set("X-GitHub-Delivery", "delivery-2") // case 26: an unsigned fresh delivery ID
	if res2, _ := gh.Verify(Request{Header: h, Body: body}, ghSecrets, now, time.Minute); res2.DedupeKey != res.DedupeKey {
		t.Error("the unsigned delivery header changed the dedupe key")
	}

	gl := mustLookup(t, "gitlab")
	glSecrets := []Secret{mustSecret(t, gl, "gitlab-token-1")}
	res, err = gl.Verify(Request{Header: http.Header{"X-Gitlab-Token": {"gitlab-token-1"}}, Body: body}, glSecrets, now, time.Minute)
	bodySum := sha256.Sum256(body)
	if err != nil || res.DedupeKey != "body:"+hex.EncodeToString(bodySum[:]) {
		t.Errorf("gitlab: %+v %v", res, err)
	}
	for _, tok := range []string{"gitlab-token-", "gitlab-token-11", "GITLAB-TOKEN-1", " gitlab-token-1"} {
		if _, err := gl.Verify(Request{Header: http.Header{"X-Gitlab-Token": {tok}}, Body: body}, glSecrets, now, time.Minute); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("gitlab token %q: %v", tok, err)
		}
	}

	// A body-ID scheme whose body lacks the ID falls back to the signature.
	gately := mustLookup(t, "gately")
	gs := []Secret{mustSecret(t, gately, "gately-secret")}
	h, _ = gately.Sign(Message{Body: body}, gs)
	if res, err := gately.Verify(Request{Header: h, Body: body}, gs, now, time.Minute); err != nil || !strings.HasPrefix(res.DedupeKey, "sig:") {
		t.Errorf("gately without id: %+v %v", res, err)
	}
}

// TestUnusableSecrets makes sure a zero Secret never acts as an empty HMAC
// key and a key of the wrong kind never panics.
func TestUnusableSecrets(t *testing.T) {
	gh := mustLookup(t, "github")
	body := []byte("x")
	m := hmac.New(sha256.New, nil)
	m.Write(body)
	r := Request{Header: http.Header{"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(m.Sum(nil))}}, Body: body}
	for _, secrets := range [][]Secret{nil, {}, {{}}} {
		if _, err := gh.Verify(r, secrets, time.Now(), time.Minute); !errors.Is(err, ErrNoSecret) {
			t.Errorf("%d secrets: err = %v, want ErrNoSecret", len(secrets), err)
		}
	}
	if _, err := gh.Verify(r, []Secret{{}, mustSecret(t, gh, "real-secret")}, time.Now(), time.Minute); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("empty-key MAC: err = %v", err)
	}

	v := loadVectors(t)["discord"]
	disc := mustLookup(t, "discord")
	hmacSecret := mustSecret(t, gh, "not-an-ed25519-key")
	if _, err := disc.Verify(v.request(), []Secret{hmacSecret}, time.Unix(v.Now, 0), time.Minute); !errors.Is(err, ErrNoSecret) {
		t.Errorf("discord with an HMAC secret: %v", err)
	}
	res, err := disc.Verify(v.request(), []Secret{hmacSecret, v.secret(t, disc)}, time.Unix(v.Now, 0), time.Minute)
	if err != nil || res.Secret != 1 {
		t.Errorf("discord second secret: %+v %v", res, err)
	}
}

func TestJSONField(t *testing.T) {
	for _, tc := range []struct {
		body, path, want string
	}{
		{`{"id":"evt_1"}`, "id", "evt_1"},
		{`{"data":{"id":"d_1"},"id":"top"}`, "data.id", "d_1"},
		{`{"id":123456789012345678901}`, "id", "123456789012345678901"},
		{`{"id":"a","id":"b"}`, "id", "b"},
		{`{"id":null}`, "id", ""},
		{`{"id":{"x":1}}`, "id", ""},
		{`{"data":[{"id":"x"}]}`, "data.id", ""},
		{`[{"id":"x"}]`, "id", ""},
		{`not json`, "id", ""},
		{`{"ID":"x"}`, "id", ""},
		{`{"id":"evt_1"} trailing`, "id", ""},
	} {
		path, err := parseFieldPath(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonField([]byte(tc.body), path); got != tc.want {
			t.Errorf("jsonField(%s, %s) = %q, want %q", tc.body, tc.path, got, tc.want)
		}
	}
}

func TestTwilioPortVariant(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://example.com/a?b=1", "https://example.com:443/a?b=1"},
		{"http://example.com", "http://example.com:80"},
		{"https://example.com:443/a", "https://example.com/a"},
		{"https://example.com:8443/a?x=https://y:1/", "https://example.com/a?x=https://y:1/"},
		{"https://user:pa:ss@example.com/a", "https://user:pa:ss@example.com:443/a"},
		{"https://user:pass@example.com:444/a", "https://user:pass@example.com/a"},
		{"https://[::1]:8443/a", "https://[::1]/a"},
		{"/relative", ""},
		{"%zz", ""},
	} {
		got, ok := twilioPortVariant(tc.in)
		if tc.want == "" && ok || tc.want != "" && got != tc.want {
			t.Errorf("twilioPortVariant(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// TestTwilioRepeatedParameter pins the all-values rule: a parameter added
// to a signed form body breaks the signature.
func TestTwilioRepeatedParameter(t *testing.T) {
	s := mustLookup(t, "twilio")
	secrets := []Secret{mustSecret(t, s, "2bd9e9638872de601313dc77410d3b23")}
	const u = "https://example.com/sms"
	body := []byte("Body=pay+10&To=%2B1")
	h, _ := s.Sign(Message{URL: u, Body: body}, secrets)
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{"Body=pay+10&To=%2B1", true},
		{"To=%2B1&Body=pay+10", true}, // Twilio signs sorted parameters
		{"Body=pay+10&Body=pay+1000&To=%2B1", false},
		{"Body=pay+10&To=%2B1&Extra=1", false},
	} {
		_, err := s.Verify(Request{Header: h, URL: u, Body: []byte(tc.body)}, secrets, time.Now(), time.Minute)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v", tc.body, err)
		}
	}
	_, err := s.Verify(Request{Header: h, URL: u + "?x=1", Body: body}, secrets, time.Now(), time.Minute)
	if !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("changed URL: %v", err)
	}
}
