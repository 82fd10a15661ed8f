package verify

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hookguard/hookguard/module/signature"
)

// TestHandshakesTouchNothing: unsigned and signed handshakes are answered
// by the handler, never reach the next handler and write no dedupe key,
// however often they come.
func TestHandshakesTouchNothing(t *testing.T) {
	const secret = "handshake-secret-0123"
	never := upstreamFunc(func(http.ResponseWriter, *http.Request) error {
		t.Error("a handshake reached the upstream")
		return nil
	})
	withRepl := func(r *http.Request) *http.Request {
		return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	}

	t.Run("twitter CRC, unsigned", func(t *testing.T) {
		h, db := newHandler(t, func(h *Handler) { h.Scheme, h.Secrets = "twitter", []Secret{{Value: secret}} })
		for range 50 {
			w := httptest.NewRecorder()
			r := withRepl(httptest.NewRequest(http.MethodGet, "http://example.com/hook?crc_token=abc-123", nil))
			if err := h.ServeHTTP(w, r, never); err != nil || w.Code != 200 || !bytes.Contains(w.Body.Bytes(), []byte("response_token")) {
				t.Fatalf("got %d %q %v", w.Code, w.Body, err)
			}
		}
		if n, err := db.Len(context.Background()); err != nil || n != 0 {
			t.Fatalf("handshakes wrote %d keys (%v)", n, err)
		}
	})

	t.Run("zoom url_validation, signed", func(t *testing.T) {
		h, db := newHandler(t, func(h *Handler) { h.Scheme, h.Secrets = "zoom", []Secret{{Value: secret}} })
		scheme, _ := signature.Lookup("zoom")
		key, err := scheme.ParseSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event":"endpoint.url_validation"}`)
		for range 50 {
			hdr, err := scheme.Sign(signature.Message{Timestamp: time.Now(), Body: body}, []signature.Secret{key})
			if err != nil {
				t.Fatal(err)
			}
			r := withRepl(httptest.NewRequest(http.MethodPost, "http://example.com/hook", bytes.NewReader(body)))
			for k, v := range hdr {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r, never); err != nil || w.Code != 200 || !bytes.Contains(w.Body.Bytes(), []byte("encryptedToken")) {
				t.Fatalf("got %d %q %v", w.Code, w.Body, err)
			}
		}
		if n, err := db.Len(context.Background()); err != nil || n != 0 {
			t.Fatalf("handshakes wrote %d keys (%v)", n, err)
		}
	})
}
