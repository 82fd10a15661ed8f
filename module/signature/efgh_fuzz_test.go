package signature

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzVerifyFamiliesEFGH feeds arbitrary signature headers, URLs and
// bodies to the presets of families E to H and their handshakes: they
// never panic, and a request they accept verified under the one secret.
func FuzzVerifyFamiliesEFGH(f *testing.F) {
	secretOf := map[string]string{} // the vectors' secrets, so seeds verify
	for _, name := range Names() {
		s, _ := Lookup(name)
		raw, err := os.ReadFile(filepath.Join(vectorDir, name+".json"))
		var v vector
		if s.doc.family < 'E' || err != nil || json.Unmarshal(raw, &v) != nil {
			continue
		}
		secretOf[name] = v.Secret
		sig := v.Headers[s.sigHeader]
		if sig == "" {
			sig = v.Headers["Authorization"]
		}
		f.Add(name, sig, v.URL, v.Body)
	}
	f.Add("qstash", "e30.e30.AAAA", "https://h/x", "{}")
	f.Add("chargebee", "Basic Og==", "https://h/x", "")
	f.Add("twitter", "", "https://h/x?crc_token=%00", "")
	f.Fuzz(func(t *testing.T, name, sig, url, body string) {
		s, ok := Lookup(name)
		if !ok {
			return
		}
		h := http.Header{}
		for _, n := range s.Headers() {
			h.Set(n, sig)
		}
		h.Set("Authorization", sig)
		r := Request{Header: h, Body: []byte(body), Method: "POST", URL: url}
		value, ok := secretOf[name]
		if !ok {
			value = testSecret(s, 0)
		}
		sec, err := s.ParseSecret(value)
		if err != nil {
			return
		}
		secrets := []Secret{sec}
		_, _ = s.UnsignedHandshake(r, secrets)
		res, err := s.Verify(r, secrets, time.Unix(1700000000, 0), time.Minute)
		if err == nil {
			if res.Secret != 0 || res.DedupeKey == "" {
				t.Fatalf("accepted with result %+v", res)
			}
			_, _ = s.SignedHandshake(r, res, secrets)
		}
	})
}
