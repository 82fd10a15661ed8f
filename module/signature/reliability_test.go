package signature

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cases 1-16, 18 and 22-24 of shared/reliability.md, as tables. Case 16 is
// the fuzz targets in fuzz_test.go.

// The Standard Webhooks canonical vector.
const (
	swSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swTS     = "1614265330"
	swBody   = `{"test": 2432232314}`
	swSig    = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var swNow = time.Unix(1614265330, 0)

// swRequest is the canonical vector with its signature header replaced.
func swRequest(sigHeader string) Request {
	h := http.Header{}
	h.Set("webhook-id", swID)
	h.Set("webhook-timestamp", swTS)
	h.Set("webhook-signature", sigHeader)
	return Request{Header: h, Body: []byte(swBody), Method: "POST", URL: "https://example.com/hook"}
}

// wrongSig is a well-formed, same-length signature that matches nothing.
func wrongSig(sig string) string {
	b := []byte(sig)
	if b[0] == '0' {
		b[0] = '1'
	} else {
		b[0] = '0'
	}
	return string(b)
}

// stripeFixture signs a body with the stripe preset at ts and returns what
// a test needs to build headers around the signature.
type stripeFixture struct {
	s       *Scheme
	secrets []Secret
	body    []byte
	ts      string
	v1      string // hex signature
	v0      string // a valid-looking signature under the legacy v0 tag
	now     time.Time
}

func newStripeFixture(t *testing.T) stripeFixture {
	t.Helper()
	s := mustLookup(t, "stripe")
	secrets := []Secret{mustSecret(t, s, "whsec_reliabilityStripe0123456789")}
	body := []byte(`{"id":"evt_rel","object":"event"}`)
	now := time.Unix(1700000000, 0)
	h, err := s.Sign(Message{Body: body, Timestamp: now}, secrets)
	if err != nil {
		t.Fatal(err)
	}
	_, v1, _ := strings.Cut(h.Get("Stripe-Signature"), ",v1=")
	return stripeFixture{s: s, secrets: secrets, body: body, ts: "1700000000", v1: v1, v0: v1, now: now}
}

func (f stripeFixture) verify(header string) (Result, error) {
	r := Request{Header: http.Header{"Stripe-Signature": {header}}, Body: f.body}
	return f.s.Verify(r, f.secrets, f.now, 5*time.Minute)
}

func TestReliabilityStandardList(t *testing.T) {
	s := mustLookup(t, "standard")
	secrets := []Secret{mustSecret(t, s, swSecret)}
	bad := wrongSig(swSig)
	cases := []struct {
		name   string
		header string
		want   error // nil: verifies
	}{
		{"1 canonical vector", "v1," + swSig, nil},
		{"2 empty v1,", "v1,", ErrInvalidSignature},
		{"2 empty v1, twice", "v1, v1,", ErrInvalidSignature},
		{"3 truncated by one char", "v1," + swSig[:len(swSig)-1], ErrInvalidSignature},
		{"3 truncated to half", "v1," + swSig[:22], ErrInvalidSignature},
		{"3 unpadded prefix", "v1," + strings.TrimSuffix(swSig, "="), ErrInvalidSignature},
		{"4 same-length wrong", "v1," + bad, ErrInvalidSignature},
		{"5 BAD GOOD v2", "v1," + bad + " v1," + swSig + " v2," + bad, nil},
		{"5 literal BAD GOOD v2", "v1,BAD v1," + swSig + " v2,BAD", nil},
		{"5 BAD v1a", "v1," + bad + " v1a," + bad, ErrInvalidSignature},
		{"5 literal BAD v1a", "v1,BAD v1a,BAD", ErrInvalidSignature},
		{"5 good after unknown tags", "v1a," + swSig + " v2," + swSig + " v1," + swSig, nil},
		{"5 extra spaces", "  v1," + swSig + "  ", nil},
		{"8 only v2", "v2," + swSig, ErrInvalidSignature},
		{"8 sha1= entry", "sha1=" + swSig, ErrInvalidSignature},
		{"8 none", "none", ErrInvalidSignature},
		{"8 untagged entry beside a good one", "none v1," + swSig, nil},
		{"9 ed25519 v1a claim", "v1a," + strings.Repeat("A", 86) + "==", ErrInvalidSignature},
		{"9 v1 with upper tag", "V1," + swSig, ErrInvalidSignature},
		{"15 url-safe alphabet", "v1," + strings.NewReplacer("+", "-", "/", "_").Replace(swSig), ErrMalformedSignature},
		{"15 whitespace inside value", "v1,\t" + swSig, ErrMalformedSignature},
		{"15 comma inside value", "v1," + swSig + ",x", ErrMalformedSignature},
		{"13 seventeen entries", strings.Repeat("v1,"+bad+" ", 16) + "v1," + swSig, ErrMalformedSignature},
		{"13 sixteen entries", strings.Repeat("v1,"+bad+" ", 15) + "v1," + swSig, nil},
		{"13 1000 short entries", strings.Repeat("v1,AAAA ", 1000), ErrMalformedSignature},
		{"13 64 KiB header", "v1," + swSig + " " + strings.Repeat("v2,A", 16<<10), ErrMalformedSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Verify(swRequest(tc.header), secrets, swNow, 5*time.Minute)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.ID != swID || res.DedupeKey != "id:"+swID {
					t.Errorf("result %+v", res)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestReliabilityCase1 changes each signed part of the canonical vector.
func TestReliabilityCase1(t *testing.T) {
	s := mustLookup(t, "standard")
	secrets := []Secret{mustSecret(t, s, swSecret)}
	for _, tc := range []struct {
		name   string
		change func(r *Request)
	}{
		{"body byte", func(r *Request) { r.Body[3] ^= 0x20 }},
		{"body appended", func(r *Request) { r.Body = append(r.Body, ' ') }},
		{"id", func(r *Request) { r.Header.Set("webhook-id", swID+"x") }},
		{"timestamp", func(r *Request) { r.Header.Set("webhook-timestamp", "1614265331") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := swRequest("v1," + swSig)
			tc.change(&r)
			if _, err := s.Verify(r, secrets, swNow, 5*time.Minute); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("err = %v, want ErrInvalidSignature", err)
			}
		})
	}
}

func TestReliabilityStripe(t *testing.T) {
	f := newStripeFixture(t)
	bad := wrongSig(f.v1)
	cases := []struct {
		name   string
		header string
		want   error
	}{
		{"valid", "t=" + f.ts + ",v1=" + f.v1, nil},
		{"6 BAD GOOD v0", "t=" + f.ts + ",v1=" + bad + ",v1=" + f.v1 + ",v0=" + f.v0, nil},
		{"6 literal BAD GOOD v0", "t=" + f.ts + ",v1=BAD,v1=" + f.v1 + ",v0=" + f.v0, nil},
		{"6 t after signatures", "v1=" + f.v1 + ",t=" + f.ts, nil},
		{"6 only v0", "t=" + f.ts + ",v0=" + f.v0, ErrInvalidSignature},
		{"6 empty v1", "t=" + f.ts + ",v1=", ErrInvalidSignature},
		{"3 truncated", "t=" + f.ts + ",v1=" + f.v1[:40], ErrInvalidSignature},
		{"3 odd truncation", "t=" + f.ts + ",v1=" + f.v1[:63], ErrInvalidSignature},
		{"4 same-length wrong", "t=" + f.ts + ",v1=" + bad, ErrInvalidSignature},
		{"7 v1,t=1", "v1,t=1", ErrMalformedSignature},
		{"7 t= alone", "t=", ErrMissingSignature},
		{"7 t= empty with v1", "t=,v1=" + f.v1, ErrMissingSignature},
		{"7 t missing", "v1=" + f.v1, ErrMissingSignature},
		{"7 duplicate t", "t=" + f.ts + ",t=" + f.ts + ",v1=" + f.v1, ErrMalformedSignature},
		{"7 item without =", "t=" + f.ts + ",v1=" + f.v1 + ",garbage", ErrMalformedSignature},
		{"7 item with two =", "t=" + f.ts + ",v1=" + f.v1 + "=", ErrMalformedSignature},
		{"7 empty item", "t=" + f.ts + ",,v1=" + f.v1, ErrMalformedSignature},
		{"7 space makes an unknown key", "t=" + f.ts + ", v1=" + f.v1, ErrInvalidSignature},
		{"8 v2 only", "t=" + f.ts + ",v2=" + f.v1, ErrInvalidSignature},
		{"15 upper-case hex", "t=" + f.ts + ",v1=" + strings.ToUpper(f.v1), nil},
		{"15 non-hex", "t=" + f.ts + ",v1=" + f.v1[:62] + "zz", ErrMalformedSignature},
		{"13 seventeen signatures", "t=" + f.ts + strings.Repeat(",v1="+bad, 16) + ",v1=" + f.v1, ErrMalformedSignature},
		{"13 1000 signatures", "t=" + f.ts + strings.Repeat(",v1=AB", 1000), ErrMalformedSignature},
		{"13 64 KiB", "t=" + f.ts + ",v1=" + f.v1 + ",v0=" + strings.Repeat("a", 64<<10), ErrMalformedSignature},
		{"24 t=+1", "t=+" + f.ts + ",v1=" + f.v1, ErrMalformedTimestamp},
		{"24 t=1.7e9", "t=1.7e9,v1=" + f.v1, ErrMalformedTimestamp},
		{"22 stale t", "t=1699999000,v1=" + f.v1, ErrStaleTimestamp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := f.verify(tc.header)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.ID != "evt_rel" {
					t.Errorf("ID %q", res.ID)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReliabilityPaddle(t *testing.T) {
	s := mustLookup(t, "paddle")
	secrets := []Secret{mustSecret(t, s, "pdl_ntfset_reliability_0123456789")}
	body := []byte(`{"event_id":"evt_p1","event_type":"x"}`)
	now := time.Unix(1700000000, 0)
	h, err := s.Sign(Message{Body: body, Timestamp: now}, secrets)
	if err != nil {
		t.Fatal(err)
	}
	good := h.Get("Paddle-Signature")
	_, sig, _ := strings.Cut(good, ";h1=")
	for _, tc := range []struct {
		name, header string
		want         error
	}{
		{"valid", good, nil},
		{"second h1 matches", "ts=1700000000;h1=" + wrongSig(sig) + ";h1=" + sig, nil},
		{"15 upper-case hex is not Paddle's", "ts=1700000000;h1=" + strings.ToUpper(sig), ErrMalformedSignature},
		{"comma separator", "ts=1700000000,h1=" + sig, ErrMalformedSignature},
		{"duplicate ts", "ts=1700000000;ts=1700000000;h1=" + sig, ErrMalformedSignature},
		{"no ts", "h1=" + sig, ErrMissingSignature},
		{"stripe tags", "t=1700000000;v1=" + sig, ErrMissingSignature},
		{"only unknown tag", "ts=1700000000;h2=" + sig, ErrInvalidSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Request{Header: http.Header{"Paddle-Signature": {tc.header}}, Body: body}
			res, err := s.Verify(r, secrets, now, 5*time.Minute)
			if tc.want == nil {
				if err != nil || res.ID != "evt_p1" {
					t.Fatalf("Verify: %+v, %v", res, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestReliabilitySingleValue covers cases 3, 4, 8, 9 and 15 for the
// prefixed and bare single-value schemes.
func TestReliabilitySingleValue(t *testing.T) {
	body := []byte(`{"id":"x1"}`)
	now := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		scheme, name string
		mutate       func(sig string) string
		want         error
	}{
		{"github", "valid", func(s string) string { return s }, nil},
		{"github", "upper-case hex", strings.ToUpper, ErrInvalidSignature}, // the prefix is upper-cased too
		{"github", "upper-case hex digits", func(s string) string { return "sha256=" + strings.ToUpper(s[7:]) }, nil},
		{"github", "sha1= on sha256 scheme", func(s string) string { return "sha1=" + s[7:47] }, ErrInvalidSignature},
		{"github", "sha512= claim", func(s string) string { return "sha512=" + s[7:] + s[7:] }, ErrInvalidSignature},
		{"github", "no prefix", func(s string) string { return s[7:] }, ErrInvalidSignature},
		{"github", "none", func(string) string { return "none" }, ErrInvalidSignature},
		{"github", "truncated", func(s string) string { return s[:len(s)-2] }, ErrInvalidSignature},
		{"github", "odd truncation", func(s string) string { return s[:len(s)-1] }, ErrInvalidSignature},
		{"github", "empty after prefix", func(string) string { return "sha256=" }, ErrInvalidSignature},
		{"github", "same-length wrong", func(s string) string { return "sha256=" + wrongSig(s[7:]) }, ErrInvalidSignature},
		{"github", "non-hex", func(s string) string { return s[:len(s)-1] + "g" }, ErrMalformedSignature},
		{"github", "two values", func(s string) string { return s + "," + s }, ErrMalformedSignature},
		{"gately", "valid", func(s string) string { return s }, nil},
		{"slack", "v1= claim", func(s string) string { return "v1=" + s[3:] }, ErrInvalidSignature},
		{"slack", "valid", func(s string) string { return s }, nil},
		{"shopify", "valid", func(s string) string { return s }, nil},
		{"shopify", "unpadded", func(s string) string { return strings.TrimRight(s, "=") }, ErrInvalidSignature},
		{"shopify", "url-safe", func(s string) string { return strings.NewReplacer("+", "-", "/", "_").Replace(s) + "-_" }, ErrMalformedSignature},
		{"shopify", "hex instead of base64", func(string) string { return strings.Repeat("ab", 32) }, ErrInvalidSignature},
		{"shopify", "sha256= prefix", func(s string) string { return "sha256=" + s }, ErrInvalidSignature},
		{"shopify", "colon", func(s string) string { return "sha256:" + s }, ErrMalformedSignature},
		{"foil", "valid", func(s string) string { return s }, nil},
		{"foil", "truncated", func(s string) string { return s[:32] }, ErrInvalidSignature},
		{"enforgate", "valid", func(s string) string { return s }, nil},
		{"enforgate", "upper-case hex", strings.ToUpper, nil},
	} {
		t.Run(tc.scheme+" "+tc.name, func(t *testing.T) {
			s := mustLookup(t, tc.scheme)
			secrets := []Secret{mustSecret(t, s, "single-value-secret-42")}
			h, err := s.Sign(Message{Body: body, Timestamp: now, ID: "x1"}, secrets)
			if err != nil {
				t.Fatal(err)
			}
			name := s.Headers()[0]
			h.Set(name, tc.mutate(h.Get(name)))
			_, err = s.Verify(Request{Header: h, Body: body}, secrets, now, 5*time.Minute)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestReliabilityTwilioEncoding covers case 15 for Twilio's padded base64.
func TestReliabilityTwilioEncoding(t *testing.T) {
	s := mustLookup(t, "twilio")
	secrets := []Secret{mustSecret(t, s, "2bd9e9638872de601313dc77410d3b23")}
	const u = "https://example.com/sms"
	body := []byte("Body=hi&From=%2B1555")
	h, err := s.Sign(Message{URL: u, Body: body}, secrets)
	if err != nil {
		t.Fatal(err)
	}
	sig := h.Get("X-Twilio-Signature")
	for _, tc := range []struct {
		name, sig string
		want      error
	}{
		{"valid", sig, nil},
		{"unpadded", strings.TrimRight(sig, "="), ErrInvalidSignature},
		{"truncated", sig[:10], ErrInvalidSignature},
		{"url-safe", sig[:len(sig)-2] + "_=", ErrMalformedSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Request{Header: http.Header{"X-Twilio-Signature": {tc.sig}}, URL: u, Body: body}
			_, err := s.Verify(r, secrets, time.Now(), time.Minute)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestReliabilityCase10 refuses empty, whitespace and short secrets for
// every preset, without echoing them.
func TestReliabilityCase10(t *testing.T) {
	bad := []string{"", " ", "\t\n", "short", "whsec_", " padded-secret-value ", "secret-with-newline\n"}
	for _, name := range Names() {
		s := mustLookup(t, name)
		for _, v := range bad {
			_, err := s.ParseSecret(v)
			if err == nil {
				t.Errorf("%s: ParseSecret(%q) accepted", name, v)
				continue
			}
			if strings.TrimSpace(v) != "" && strings.Contains(err.Error(), strings.TrimSpace(v)) {
				t.Errorf("%s: error %q echoes the secret", name, err)
			}
		}
	}
	disc := mustLookup(t, "discord")
	for _, v := range []string{strings.Repeat("ab", 31), strings.Repeat("ab", 33), strings.Repeat("zz", 32)} {
		if _, err := disc.ParseSecret(v); err == nil {
			t.Errorf("discord accepted a bad public key of %d chars", len(v))
		}
	}
	std := mustLookup(t, "standard")
	for _, v := range []string{"whsec_not*base64", "whsec_QUJD"} { // undecodable; 3 bytes
		if _, err := std.ParseSecret(v); err == nil {
			t.Errorf("standard accepted %q", v)
		}
	}
}

// TestReliabilityCase11 removes each header a preset reads.
func TestReliabilityCase11(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, name := range Names() {
		s := mustLookup(t, name)
		if !s.CanSign() || s.custom != nil {
			continue // discord is covered below with its vector; custom families test their own
		}
		secrets := []Secret{mustSecret(t, s, testSecret(s, 0))}
		h, err := s.Sign(Message{ID: "msg_1", Timestamp: now, Body: []byte(`{"id":"1"}`), URL: "https://example.com/"}, secrets)
		if err != nil {
			t.Fatalf("%s: Sign: %v", name, err)
		}
		for _, hdr := range s.requiredHeaders() {
			for _, empty := range []bool{false, true} {
				r := Request{Header: h.Clone(), Body: []byte(`{"id":"1"}`), URL: "https://example.com/"}
				if empty {
					r.Header.Set(hdr, "")
				} else {
					r.Header.Del(hdr)
				}
				if _, err := s.Verify(r, secrets, now, 5*time.Minute); !errors.Is(err, ErrMissingSignature) {
					t.Errorf("%s without %s (empty %v): err = %v", name, hdr, empty, err)
				}
			}
		}
	}
	v := loadVectors(t)["discord"]
	s := mustLookup(t, "discord")
	for _, hdr := range s.Headers() {
		r := v.request()
		r.Header.Del(hdr)
		if _, err := s.Verify(r, []Secret{v.secret(t, s)}, time.Unix(v.Now, 0), time.Minute); !errors.Is(err, ErrMissingSignature) {
			t.Errorf("discord without %s: err = %v", hdr, err)
		}
	}
}

// TestReliabilityCase12 rotates secrets.
func TestReliabilityCase12(t *testing.T) {
	for _, name := range []string{"standard", "stripe", "github", "slack", "gitlab", "twilio"} {
		t.Run(name, func(t *testing.T) {
			s := mustLookup(t, name)
			oldS := mustSecret(t, s, "whsec_b2xkLXNlY3JldC1rZXktMDE=")
			newS := mustSecret(t, s, "whsec_bmV3LXNlY3JldC1rZXktMDI=")
			now := time.Unix(1700000000, 0)
			m := Message{ID: "msg_r", Timestamp: now, Body: []byte(`{"id":"e"}`), URL: "https://example.com/x"}
			for _, signer := range []Secret{oldS, newS} {
				h, err := s.Sign(m, []Secret{signer})
				if err != nil {
					t.Fatal(err)
				}
				r := Request{Header: h, Body: m.Body, URL: m.URL}
				res, err := s.Verify(r, []Secret{newS, oldS}, now, time.Minute)
				if err != nil {
					t.Fatalf("both configured: %v", err)
				}
				if want := map[bool]int{true: 1, false: 0}[signer.fp == oldS.fp]; res.Secret != want {
					t.Errorf("Secret index %d, want %d", res.Secret, want)
				}
				other := oldS
				if signer.fp == oldS.fp {
					other = newS
				}
				if _, err := s.Verify(r, []Secret{other}, now, time.Minute); !errors.Is(err, ErrInvalidSignature) {
					t.Errorf("after removal: err = %v", err)
				}
			}
		})
	}
}

// TestReliabilityCase14 sends each header twice, the valid value first or
// second.
func TestReliabilityCase14(t *testing.T) {
	s := mustLookup(t, "standard")
	secrets := []Secret{mustSecret(t, s, swSecret)}
	good := map[string]string{"webhook-id": swID, "webhook-timestamp": swTS, "webhook-signature": "v1," + swSig}
	bogus := map[string]string{"webhook-id": "msg_other", "webhook-timestamp": "1614265331", "webhook-signature": "v1," + wrongSig(swSig)}
	for hdr := range good {
		for _, validFirst := range []bool{true, false} {
			r := swRequest("v1," + swSig)
			if validFirst {
				r.Header.Add(hdr, bogus[hdr])
			} else {
				r.Header.Set(hdr, bogus[hdr])
				r.Header.Add(hdr, good[hdr])
			}
			if _, err := s.Verify(r, secrets, swNow, 5*time.Minute); !errors.Is(err, ErrMalformedSignature) {
				t.Errorf("%s twice (valid first %v): err = %v", hdr, validFirst, err)
			}
		}
		// A hand-built header map with two spellings of one name.
		r := swRequest("v1," + swSig)
		r.Header[strings.ToLower(hdr)] = []string{good[hdr]}
		if _, err := s.Verify(r, secrets, swNow, 5*time.Minute); !errors.Is(err, ErrMalformedSignature) {
			t.Errorf("%s in two spellings: err = %v", hdr, err)
		}
	}
	f := newStripeFixture(t)
	r := Request{Header: http.Header{"Stripe-Signature": {"t=" + f.ts + ",v1=" + f.v1, "t=" + f.ts + ",v1=" + f.v1}}, Body: f.body}
	if _, err := f.s.Verify(r, f.secrets, f.now, time.Minute); !errors.Is(err, ErrMalformedSignature) {
		t.Errorf("stripe twice: err = %v", err)
	}
}

// TestReliabilityCase15Generic covers the generic scheme's base64 rules:
// padding optional, standard alphabet only.
func TestReliabilityCase15Generic(t *testing.T) {
	s, err := NewHMAC(HMACConfig{SignatureHeader: "X-Sig", Encoding: "base64", Prefix: "v1,"})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []Secret{mustSecret(t, s, "generic-secret-1")}
	var (
		body []byte
		sig  string
	)
	for i := 0; ; i++ { // find a body whose (always padded) signature has + or /
		body = []byte("payload" + strconv.Itoa(i))
		h, _ := s.Sign(Message{Body: body}, secrets)
		sig = h.Get("X-Sig")
		if strings.ContainsAny(sig, "+/") {
			break
		}
	}
	for _, tc := range []struct {
		name, sig string
		want      error
	}{
		{"padded", sig, nil},
		{"unpadded", strings.TrimRight(sig, "="), nil},
		{"url-safe", strings.NewReplacer("+", "-", "/", "_").Replace(sig), ErrMalformedSignature},
		{"wrong prefix", "v2," + sig[3:], ErrInvalidSignature},
	} {
		r := Request{Header: http.Header{"X-Sig": {tc.sig}}, Body: body}
		_, err := s.Verify(r, secrets, time.Now(), time.Minute)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestReliabilityCase18 re-serialises the signed JSON.
func TestReliabilityCase18(t *testing.T) {
	f := newStripeFixture(t) // body {"id":"evt_rel","object":"event"}
	for _, body := range []string{
		"{\n  \"id\": \"evt_rel\",\n  \"object\": \"event\"\n}",
		`{"object":"event","id":"evt_rel"}`,
		`{"id":"evt_rel","object":"ev\u0065nt"}`,
		`{"id":"evt_rel","object":"event"}` + "\n",
		` {"id":"evt_rel","object":"event"}`,
	} {
		r := Request{Header: http.Header{"Stripe-Signature": {"t=" + f.ts + ",v1=" + f.v1}}, Body: []byte(body)}
		if _, err := f.s.Verify(r, f.secrets, f.now, time.Minute); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%q: err = %v", body, err)
		}
	}
}

// TestReliabilityTimestamps covers cases 22-24 on a seconds scheme (slack)
// and a milliseconds scheme (enforgate).
func TestReliabilityTimestamps(t *testing.T) {
	now := time.Unix(1700000000, 0)
	const tol = 5 * time.Minute
	for _, tc := range []struct {
		scheme string
		ts     string // "" means: sign at the offset below
		offset time.Duration
		want   error
	}{
		{"slack", "", -301 * time.Second, ErrStaleTimestamp},
		{"slack", "", -300 * time.Second, nil},
		{"slack", "", -299 * time.Second, nil},
		{"slack", "", 299 * time.Second, nil},
		{"slack", "", 300 * time.Second, nil},
		{"slack", "", 301 * time.Second, ErrStaleTimestamp},
		{"slack", "1700000000000", 0, ErrStaleTimestamp}, // 13 digits: ms on a seconds scheme
		{"slack", "0", 0, ErrStaleTimestamp},
		{"slack", "999999999999999", 0, ErrStaleTimestamp},
		{"slack", "+1700000000", 0, ErrMalformedTimestamp},
		{"slack", " 1700000000", 0, ErrMalformedTimestamp},
		{"slack", "1700000000 ", 0, ErrMalformedTimestamp},
		{"slack", "1.7e9", 0, ErrMalformedTimestamp},
		{"slack", "1700000000.0", 0, ErrMalformedTimestamp},
		{"slack", "0x6553F100", 0, ErrMalformedTimestamp},
		{"slack", "-1700000000", 0, ErrMalformedTimestamp},
		{"slack", "01700000000", 0, ErrMalformedTimestamp},
		{"slack", "9223372036854775807", 0, ErrMalformedTimestamp},
		{"slack", "9223372036854775808", 0, ErrMalformedTimestamp},
		{"slack", "99999999999999999999999", 0, ErrMalformedTimestamp},
		{"slack", "1000000000000001", 0, ErrMalformedTimestamp},
		{"slack", "NaN", 0, ErrMalformedTimestamp},
		{"slack", "１７００００００００", 0, ErrMalformedTimestamp}, // full-width digits
		{"enforgate", "", -301 * time.Second, ErrStaleTimestamp},
		{"enforgate", "", -299 * time.Second, nil},
		{"enforgate", "", 301 * time.Second, ErrStaleTimestamp},
		{"enforgate", "", 300*time.Second + time.Millisecond, ErrStaleTimestamp},
		{"enforgate", "1700000000", 0, ErrStaleTimestamp}, // seconds on a ms scheme
		{"enforgate", "1.7e12", 0, ErrMalformedTimestamp},
	} {
		t.Run(tc.scheme+" "+tc.ts+" "+tc.offset.String(), func(t *testing.T) {
			s := mustLookup(t, tc.scheme)
			secrets := []Secret{mustSecret(t, s, "timestamp-test-secret")}
			body := []byte(`{"a":1}`)
			var h http.Header
			if tc.ts == "" {
				var err error
				if h, err = s.Sign(Message{Body: body, Timestamp: now.Add(tc.offset)}, secrets); err != nil {
					t.Fatal(err)
				}
			} else {
				// A correct signature over the odd timestamp, so that only
				// the timestamp rules can reject it.
				m := hmacRef(t, tc.scheme, "timestamp-test-secret", tc.ts, body)
				h = http.Header{}
				h.Set(s.Headers()[0], m)
				h.Set(s.Headers()[1], tc.ts)
			}
			res, err := s.Verify(Request{Header: h, Body: body}, secrets, now, tol)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if d := res.Timestamp.Sub(now.Add(tc.offset)); d < -time.Second || d > time.Second {
					t.Errorf("Timestamp %v", res.Timestamp)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestErrorsHideSecrets checks that no error detail carries a secret or a
// signature value.
func TestErrorsHideSecrets(t *testing.T) {
	s := mustLookup(t, "standard")
	secrets := []Secret{mustSecret(t, s, swSecret)}
	for _, hdr := range []string{"v1," + wrongSig(swSig), "v1," + swSig + ",x", "v1," + swSig[:20], strings.Repeat("v1,"+swSig+" ", 17)} {
		_, err := s.Verify(swRequest(hdr), secrets, swNow, time.Minute)
		if err == nil {
			t.Fatalf("%q verified", hdr)
		}
		for _, secret := range []string{swSecret, swSecret[6:], swSig[:12], wrongSig(swSig)[:12]} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains %q", err, secret)
			}
		}
	}
}
