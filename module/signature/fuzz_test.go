package signature

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	twilio "github.com/twilio/twilio-go/client"
)

// Fuzz targets for every header parser and an oracle target for Verify.
// Seed corpora live in testdata/fuzz/<FuzzName>/ besides the f.Add seeds.

// isSentinel reports whether err wraps one of the package's request errors.
func isSentinel(err error) bool {
	for _, s := range []error{ErrMissingSignature, ErrMalformedSignature, ErrMalformedTimestamp, ErrInvalidSignature, ErrStaleTimestamp} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// checkParsed holds for every successful parse: a bounded number of
// well-formed candidates, each present in the header after its tag.
func checkParsed(t *testing.T, l layout, enc encoding, header string, p parsed, err error) {
	t.Helper()
	if err != nil {
		if !isSentinel(err) {
			t.Fatalf("unexpected error type: %v", err)
		}
		return
	}
	if len(p.sigs) == 0 || len(p.sigs) > MaxSignatures {
		t.Fatalf("%d candidates", len(p.sigs))
	}
	for _, sig := range p.sigs {
		if !enc.wellFormed(sig) {
			t.Fatalf("candidate %q not %s", sig, enc)
		}
		var marker string
		switch l.format {
		case fmtList:
			marker = l.tag + "," + sig
		case fmtPairs:
			marker = l.tag + "=" + sig
		default:
			marker = l.prefix + sig
		}
		if !strings.Contains(header, marker) {
			t.Fatalf("candidate %q not in header %q", sig, header)
		}
	}
}

// hasItem reports whether items contains item.
func hasItem(items []string, item string) bool {
	for _, it := range items {
		if it == item {
			return true
		}
	}
	return false
}

func FuzzParseStandardList(f *testing.F) {
	f.Add("v1," + swSig)
	f.Add("v1,BAD v1," + swSig + " v2,BAD")
	f.Add("v1, v1a,xyz")
	f.Add(strings.Repeat("v1,AAAA ", 20))
	f.Add("v1," + swSig + ",extra")
	l := layout{format: fmtList, tag: "v1"}
	f.Fuzz(func(t *testing.T, header string) {
		if len(header) > MaxHeaderBytes {
			return // readHeader rejects these before parse
		}
		p, err := l.parse(header, encBase64)
		checkParsed(t, l, encBase64, header, p, err)
		if err == nil && strings.Count(header, ",") < len(p.sigs) {
			t.Fatal("more candidates than entries")
		}
	})
}

func FuzzParseStripe(f *testing.F) {
	f.Add("t=1700000000,v1=" + strings.Repeat("ab", 32))
	f.Add("t=1,v1=BAD,v1=" + strings.Repeat("0", 64) + ",v0=00")
	f.Add("v1,t=1")
	f.Add("t=")
	f.Add("t=1,t=2,v1=00")
	l := layout{format: fmtPairs, tsKey: "t", tag: "v1", sep: ","}
	f.Fuzz(func(t *testing.T, header string) {
		if len(header) > MaxHeaderBytes {
			return
		}
		p, err := l.parse(header, encHex)
		checkParsed(t, l, encHex, header, p, err)
		if err == nil && (p.ts == "" || !hasItem(strings.Split(header, ","), "t="+p.ts)) {
			t.Fatalf("timestamp %q not taken from a t= item of %q", p.ts, header)
		}
	})
}

func FuzzParsePaddle(f *testing.F) {
	f.Add("ts=1710929255;h1=6c05ef8fa83c44d751be6d259ec955ce5638e2c54095bf128e408e2fce1589c8")
	f.Add("ts=1;h1=aa;h1=bb")
	f.Add("ts=1,h1=aa")
	f.Add("h1=aa")
	l := layout{format: fmtPairs, tsKey: "ts", tag: "h1", sep: ";"}
	f.Fuzz(func(t *testing.T, header string) {
		if len(header) > MaxHeaderBytes {
			return
		}
		p, err := l.parse(header, encHexLower)
		checkParsed(t, l, encHexLower, header, p, err)
		if err == nil && !hasItem(strings.Split(header, ";"), "ts="+p.ts) {
			t.Fatalf("accepted %q without exactly one ts=", header)
		}
	})
}

func FuzzParsePrefixed(f *testing.F) {
	f.Add("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", true)
	f.Add("sha1=00", true)
	f.Add("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", false)
	f.Add("g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE", false)
	f.Fuzz(func(t *testing.T, header string, hexPrefixed bool) {
		l, enc := layout{}, encBase64
		if hexPrefixed {
			l, enc = layout{prefix: "sha256="}, encHex
		}
		p, err := l.parse(header, enc)
		checkParsed(t, l, enc, header, p, err)
		if err == nil && l.prefix+p.sigs[0] != header {
			t.Fatalf("candidate %q is not the whole value %q", p.sigs[0], header)
		}
	})
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"1700000000", "0", "+1", " 1", "1.7e9", "0x10", "-5", "01", "9223372036854775807", "1700000000000", "１"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, millis bool) {
		unit, limit := tsSeconds, int64(maxTimestampSeconds)
		if millis {
			unit, limit = tsMillis, int64(maxTimestampSeconds)*1000
		}
		ts, err := parseTimestamp(s, unit)
		n, perr := strconv.ParseInt(s, 10, 64)
		canonical := perr == nil && n >= 0 && n <= limit && strconv.FormatInt(n, 10) == s
		if canonical != (err == nil) {
			t.Fatalf("parseTimestamp(%q) err = %v, canonical %v", s, err, canonical)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformedTimestamp) {
				t.Fatalf("error %v is not ErrMalformedTimestamp", err)
			}
			return
		}
		if formatTimestamp(ts, unit) != s {
			t.Fatalf("round trip %q -> %q", s, formatTimestamp(ts, unit))
		}
	})
}

// fuzzSchemes are the presets FuzzVerify covers: the HMAC presets of the
// reference implementation, the shared token and Ed25519. Twilio has its
// own target.
var fuzzSchemes = []string{"standard", "svix", "stripe", "github", "slack", "shopify", "paddle", "foil", "enforgate", "gately", "gitlab", "discord"}

// fuzzSecrets are the two secrets FuzzVerify configures (as rotation).
var fuzzSecrets = []string{"whsec_ZnV6ei1zZWNyZXQtb25l", "whsec_ZnV6ei1zZWNyZXQtdHdv"}

const fuzzNow = 1700000000

// fuzzEd25519 is the i-th discord signing key.
func fuzzEd25519(i int) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
}

// fuzzSecret is the i-th configured secret string of a scheme.
func fuzzSecret(scheme string, i int) string {
	if scheme == "discord" {
		return hex.EncodeToString(fuzzEd25519(i).Public().(ed25519.PublicKey))
	}
	return fuzzSecrets[i]
}

// fuzzSeed is a valid signature header, timestamp and ID for the secret.
func fuzzSeed(scheme string, secret int, body string) (sig, ts, id string) {
	ts = "1700000000"
	if scheme == "enforgate" {
		ts = "1700000000000"
	}
	id = "msg_fuzz"
	switch scheme {
	case "gitlab":
		sig = fuzzSecrets[secret]
	case "discord":
		sig = hex.EncodeToString(ed25519.Sign(fuzzEd25519(secret), []byte(ts+body)))
	default:
		sig = refHeader(scheme, fuzzSecrets[secret], id, ts, []byte(body))
	}
	return sig, ts, id
}

// FuzzVerify is an oracle fuzz target: whatever the headers and body,
// Verify must not panic, must return one of the sentinel errors on failure,
// and may succeed only if the reference implementation's HMAC for the
// matched secret appears in the signature header and the signed timestamp
// is within tolerance.
func FuzzVerify(f *testing.F) {
	for i, name := range fuzzSchemes {
		body := `{"id":"evt_1","event_id":"evt_1"}`
		sig, ts, id := fuzzSeed(name, i%2, body)
		f.Add(uint8(i), sig, ts, id, []byte(body), int64(0))
		f.Add(uint8(i), sig, ts, id, []byte(body+" "), int64(0))
		f.Add(uint8(i), sig+" "+sig, ts, id, []byte(body), int64(301))
	}
	f.Fuzz(func(t *testing.T, which uint8, sig, ts, id string, body []byte, skew int64) {
		name := fuzzSchemes[int(which)%len(fuzzSchemes)]
		s := mustLookup(t, name)
		secrets := make([]Secret, len(fuzzSecrets))
		for i := range fuzzSecrets {
			secrets[i] = mustSecret(t, s, fuzzSecret(name, i))
		}
		h := http.Header{}
		h.Set(s.Headers()[0], sig)
		if s.tsHeader != "" {
			h.Set(s.tsHeader, ts)
		}
		if s.idHeader != "" {
			h.Set(s.idHeader, id)
		}
		now := time.Unix(fuzzNow+skew%1000, 0)
		res, err := s.Verify(Request{Header: h, Body: body}, secrets, now, 5*time.Minute)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}

		// Success: re-derive everything independently.
		signedTS := ts
		switch name {
		case "stripe", "paddle":
			signedTS = ""
			key := map[string]string{"stripe": "t=", "paddle": "ts="}[name]
			sep := map[string]string{"stripe": ",", "paddle": ";"}[name]
			for _, item := range strings.Split(sig, sep) {
				if v, ok := strings.CutPrefix(item, key); ok {
					signedTS = v
				}
			}
		case "github", "shopify", "gately", "gitlab":
			signedTS = ""
		}
		if signedTS != "" {
			n, err := strconv.ParseInt(signedTS, 10, 64)
			if err != nil {
				t.Fatalf("accepted unparseable timestamp %q", signedTS)
			}
			at := time.Unix(n, 0)
			if name == "enforgate" {
				at = time.UnixMilli(n)
			}
			if d := now.Sub(at); d > 5*time.Minute || d < -5*time.Minute {
				t.Fatalf("accepted timestamp %q at %v", signedTS, now)
			}
		}
		if res.Secret < 0 || res.Secret >= len(secrets) {
			t.Fatalf("secret index %d", res.Secret)
		}
		switch name {
		case "gitlab":
			if sig != fuzzSecrets[res.Secret] {
				t.Fatalf("gitlab accepted token %q", sig)
			}
			return
		case "discord":
			raw, err := hex.DecodeString(sig)
			pub := fuzzEd25519(res.Secret).Public().(ed25519.PublicKey)
			if err != nil || !ed25519.Verify(pub, append([]byte(signedTS), body...), raw) {
				t.Fatalf("discord accepted signature %q", sig)
			}
			return
		}
		want := refEncoded(name, refMAC(name, fuzzSecrets[res.Secret], id, signedTS, body))
		got := sig
		if name != "standard" && name != "svix" && name != "shopify" { // hex: either case
			got = strings.ToLower(sig)
		}
		if !strings.Contains(got, want) {
			t.Fatalf("%s accepted header %q without the reference signature %q", name, sig, want)
		}
		if (name == "standard" || name == "svix") && res.ID != id {
			t.Fatalf("ID %q, want the signed header %q", res.ID, id)
		}
	})
}

// FuzzVerifyTwilio is an oracle fuzz target for Twilio's URL-and-form
// content, with twilio-go's RequestValidator as the oracle: Verify may
// succeed only where the SDK accepts too, except that the SDK signs only
// the first value of a repeated form parameter, which Verify deliberately
// refuses to do.
func FuzzVerifyTwilio(f *testing.F) {
	const token = "2bd9e9638872de601313dc77410d3b23"
	rv := twilio.NewRequestValidator(token)
	s := mustLookup(f, "twilio")
	secrets := []Secret{mustSecret(f, s, token)}
	for _, seed := range []struct{ url, body string }{
		{"https://example.com/sms?x=1", "Body=hi&From=%2B1555"},
		{"https://example.com:8443/sms", "A=1&A=2&B="},
		{"http://example.com/voice", ""},
		{"https://example.com/json?bodySHA256=44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "hello"},
	} {
		h, err := s.Sign(Message{URL: seed.url, Body: []byte(seed.body)}, secrets)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed.url, h.Get("X-Twilio-Signature"), []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, rawURL, sig string, body []byte) {
		r := Request{Header: http.Header{"X-Twilio-Signature": {sig}}, URL: rawURL, Body: body}
		_, err := s.Verify(r, secrets, time.Unix(fuzzNow, 0), time.Minute)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if rv.ValidateBody(rawURL, body, sig) {
			return
		}
		form, _ := url.ParseQuery(string(body))
		for _, vals := range form {
			if len(vals) > 1 {
				return // the SDK's first-value rule differs on purpose
			}
		}
		t.Fatalf("accepted url %q body %q signature %q that twilio-go rejects", rawURL, body, sig)
	})
}

// TestFuzzSeedsVerify keeps FuzzVerify honest: its valid seeds, built by the
// reference implementation, must verify, so the fuzzer starts from inputs
// that reach the success path.
func TestFuzzSeedsVerify(t *testing.T) {
	for i, name := range fuzzSchemes {
		s := mustLookup(t, name)
		secrets := []Secret{mustSecret(t, s, fuzzSecret(name, 0)), mustSecret(t, s, fuzzSecret(name, 1))}
		body := `{"id":"evt_1","event_id":"evt_1"}`
		sig, ts, id := fuzzSeed(name, i%2, body)
		h := http.Header{}
		h.Set(s.Headers()[0], sig)
		if s.tsHeader != "" {
			h.Set(s.tsHeader, ts)
		}
		if s.idHeader != "" {
			h.Set(s.idHeader, id)
		}
		res, err := s.Verify(Request{Header: h, Body: []byte(body)}, secrets, time.Unix(fuzzNow, 0), 5*time.Minute)
		if err != nil || res.Secret != i%2 {
			t.Errorf("%s: %+v %v", name, res, err)
		}
	}
}
