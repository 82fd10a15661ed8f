package signature

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"
)

// BenchmarkVerify verifies a 2 KiB request per preset: the cost
// webhook_verify adds before any store work.
func BenchmarkVerify(b *testing.B) {
	body := append([]byte(`{"id":"evt_bench","event_id":"evt_bench","data":"`), bytes.Repeat([]byte("x"), 2000)...)
	body = append(body, `"}`...)
	now := time.Now()
	sum := sha256.Sum256(body)
	url := "https://hooks.example.com/bench?bodySHA256=" + hex.EncodeToString(sum[:]) // Twilio's rule for JSON bodies
	for _, name := range Names() {
		s, _ := Lookup(name)
		var secret Secret
		var header http.Header
		if name == "discord" {
			key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
			var err error
			if secret, err = s.ParseSecret(hex.EncodeToString(key.Public().(ed25519.PublicKey))); err != nil {
				b.Fatal(err)
			}
			ts := []byte("1700000000")
			header = http.Header{}
			header.Set("X-Signature-Timestamp", string(ts))
			header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, append(ts, body...))))
			now = time.Unix(1700000000, 0)
		} else {
			if !s.CanSign() {
				continue // verify-only: its signer lives outside this package
			}
			var err error
			key := testSecret(s, 0)
			if s.keyEnc == keyBase64 {
				key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
			}
			if secret, err = s.ParseSecret(key); err != nil {
				if s.custom != nil {
					continue // a bespoke key format; its family benchmarks itself
				}
				b.Fatal(err)
			}
			if header, err = s.Sign(Message{ID: "msg_bench", Timestamp: now, Body: body, Method: http.MethodPost,
				URL: url}, []Secret{secret}); err != nil {
				b.Fatal(err)
			}
		}
		req := Request{Header: header, Body: body, Method: http.MethodPost, URL: url}
		secrets := []Secret{secret}
		if _, err := s.Verify(req, secrets, now, 5*time.Minute); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := s.Verify(req, secrets, now, 5*time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
