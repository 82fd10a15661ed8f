package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"testing"
)

// handshakeScheme is a preset name's scheme for the handshake table; the
// handshakes depend only on the name and the secrets.
func handshakeScheme(name string) *Scheme {
	if s, ok := Lookup(name); ok {
		return s
	}
	return &Scheme{Name: name}
}

func TestUnsignedHandshakes(t *testing.T) {
	const secret = "consumer-secret-0123"
	secrets := []Secret{{key: []byte(secret)}}
	crc := hmac.New(sha256.New, []byte(secret))
	crc.Write([]byte("9b4507b3-9040-4669-9ca3-6b94edb50553"))
	for _, c := range []struct {
		name, scheme, method, url string
		header                    http.Header
		answered                  bool
		body, headerName, value   string
	}{
		{"twitter crc", "twitter", "GET", "https://h/x?crc_token=9b4507b3-9040-4669-9ca3-6b94edb50553", nil, true,
			`{"response_token":"sha256=` + base64.StdEncoding.EncodeToString(crc.Sum(nil)) + `"}`, "Content-Type", "application/json"},
		{"twitter crc token shaped like a body", "twitter", "GET", `https://h/x?crc_token=%7B%22a%22%3A1%7D`, nil, false, "", "", ""},
		{"twitter crc on POST", "twitter", "POST", "https://h/x?crc_token=abc", nil, false, "", "", ""},
		{"twitter crc token twice", "twitter", "GET", "https://h/x?crc_token=a&crc_token=b", nil, false, "", "", ""},
		{"meta subscribe", "meta", "GET", "https://h/x?hub.mode=subscribe&hub.verify_token=" + secret + "&hub.challenge=1158201444", nil, true,
			"1158201444", "X-Content-Type-Options", "nosniff"},
		{"meta wrong verify token", "meta", "GET", "https://h/x?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444", nil, false, "", "", ""},
		{"meta other mode", "meta", "GET", "https://h/x?hub.mode=unsubscribe&hub.verify_token=" + secret + "&hub.challenge=1", nil, false, "", "", ""},
		{"dropbox challenge", "dropbox", "GET", "https://h/x?challenge=Xyz-123", nil, true, "Xyz-123", "Content-Type", "text/plain; charset=utf-8"},
		{"dropbox markup", "dropbox", "GET", "https://h/x?challenge=%3Cscript%3E", nil, false, "", "", ""},
		{"asana hook secret", "asana", "POST", "https://h/x", http.Header{"X-Hook-Secret": {"b537207f20cbfa02357cf448134da559"}}, true,
			"", "X-Hook-Secret", "b537207f20cbfa02357cf448134da559"},
		{"asana event is not a handshake", "asana", "POST", "https://h/x",
			http.Header{"X-Hook-Secret": {"b5372"}, "X-Hook-Signature": {"00"}}, false, "", "", ""},
		{"trello head", "trello", "HEAD", "https://h/x", nil, true, "", "", ""},
		{"trello post", "trello", "POST", "https://h/x", nil, false, "", "", ""},
		{"other preset", "stripe", "GET", "https://h/x?crc_token=abc&challenge=abc", nil, false, "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := c.header
			if h == nil {
				h = http.Header{}
			}
			rep, ok := handshakeScheme(c.scheme).UnsignedHandshake(Request{Method: c.method, URL: c.url, Header: h}, secrets)
			if ok != c.answered {
				t.Fatalf("answered = %v, want %v", ok, c.answered)
			}
			if !ok {
				return
			}
			if rep.Status != 200 || string(rep.Body) != c.body || c.headerName != "" && rep.Header.Get(c.headerName) != c.value {
				t.Errorf("reply %d %q %v", rep.Status, rep.Body, rep.Header)
			}
		})
	}
}

func TestSignedHandshakes(t *testing.T) {
	const secret = "zoom-secret-token-0123"
	secrets := []Secret{{key: []byte("other-secret-000")}, {key: []byte(secret)}}
	res := Result{Secret: 1}
	zoom := hmac.New(sha256.New, []byte(secret))
	zoom.Write([]byte("qgg8vlvZRS6UYooatFL8Aw"))
	for _, c := range []struct {
		name, scheme, method, body string
		header                     http.Header
		answered                   bool
		want                       string
	}{
		{"zoom url validation", "zoom", "POST", `{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`, nil, true,
			`{"encryptedToken":"` + hex.EncodeToString(zoom.Sum(nil)) + `","plainToken":"qgg8vlvZRS6UYooatFL8Aw"}`},
		{"zoom event", "zoom", "POST", `{"event":"meeting.started","payload":{}}`, nil, false, ""},
		{"twitch verification", "twitch", "POST", `{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{}}`,
			http.Header{"Twitch-Eventsub-Message-Type": {"webhook_callback_verification"}}, true, "pogchamp-kappa-360noscope-vohiyo"},
		{"twitch notification", "twitch", "POST", `{"challenge":"x"}`, http.Header{"Twitch-Eventsub-Message-Type": {"notification"}}, false, ""},
		{"slack url verification", "slack", "POST", `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`,
			nil, true, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
		{"slack event", "slack", "POST", `{"type":"event_callback","challenge":"x"}`, nil, false, ""},
		{"mailchimp ping", "mailchimp", "GET", "", nil, true, ""},
		{"okta verification", "okta", "GET", "", http.Header{"X-Okta-Verification-Challenge": {"JhSx5Npt3y7B4ts0aF4wRhu0LvOs7dQpmxoTbpAN"}}, true,
			`{"verification":"JhSx5Npt3y7B4ts0aF4wRhu0LvOs7dQpmxoTbpAN"}`},
		{"okta event", "okta", "POST", `{}`, nil, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := c.header
			if h == nil {
				h = http.Header{}
			}
			r := Request{Method: c.method, URL: "https://h/x", Header: h, Body: []byte(c.body)}
			s := handshakeScheme(c.scheme)
			if _, ok := s.UnsignedHandshake(r, secrets); ok {
				t.Fatal("a signed handshake was answered before verification")
			}
			rep, ok := s.SignedHandshake(r, res, secrets)
			if ok != c.answered {
				t.Fatalf("answered = %v, want %v", ok, c.answered)
			}
			if ok && (rep.Status != 200 || string(rep.Body) != c.want) {
				t.Errorf("reply %d %q, want %q", rep.Status, rep.Body, c.want)
			}
		})
	}
}
