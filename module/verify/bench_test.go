package verify

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hookguard/hookguard/module/signature"
)

// BenchmarkServeHTTP is what webhook_verify costs per request, with no
// network around it: 2 KiB Standard Webhooks requests, many at once,
// verified and forwarded to an upstream that answers 200 at once. With
// dedupe, each request claims its ID in Badger and commits the answer.
func BenchmarkServeHTTP(b *testing.B) {
	for _, dedupe := range []bool{true, false} {
		name := "dedupe"
		if !dedupe {
			name = "no_dedupe"
		}
		b.Run(name, func(b *testing.B) {
			h, _ := newHandler(b, func(h *Handler) { h.DisableDedupe = !dedupe })
			body := bytes.Repeat([]byte("x"), 2048)
			scheme, _ := signature.Lookup("standard")
			secret, _ := scheme.ParseSecret(testSecret)
			headers := make([]http.Header, b.N)
			for i := range headers {
				hdr, err := scheme.Sign(signature.Message{ID: "msg_" + strconv.Itoa(i), Timestamp: time.Now(), Body: body}, []signature.Secret{secret})
				if err != nil {
					b.Fatal(err)
				}
				hdr.Set("Content-Type", "application/json")
				headers[i] = hdr
			}
			upstream := upstreamFunc(func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Content-Type", "application/json")
				_, err := w.Write([]byte(`{"ok":true}`))
				return err
			})
			var next atomic.Int64
			b.SetParallelism(16) // 32 requests at once on 2 cores, as hookbench sends
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					r := httptest.NewRequest(http.MethodPost, "http://example.com/hook", bytes.NewReader(body))
					r.Header = headers[i]
					r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
					w := httptest.NewRecorder()
					if err := h.ServeHTTP(w, r, upstream); err != nil || w.Code != http.StatusOK {
						b.Fatalf("request %d: %d %v %s", i, w.Code, err, w.Body)
					}
				}
			})
		})
	}
}
