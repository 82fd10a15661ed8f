package verify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/hookguard/hookguard/module/signature"
	"github.com/hookguard/hookguard/module/store"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// newHandler provisions a standard-scheme handler on a real Badger store
// in a temporary directory, without a Caddy config around it.
func newHandler(t testing.TB, configure func(*Handler)) (*Handler, *store.Badger) {
	t.Helper()
	db, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &Handler{Secrets: []Secret{{Value: testSecret}}, logger: zap.NewNop(), metrics: collectors, stores: openStore{db}}
	if configure != nil {
		configure(h)
	}
	if err := h.provisionScheme(); err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	return h, db
}

// openStore is a store source with the store already open.
type openStore struct{ db *store.Badger }

func (o openStore) Store() store.Store { return o.db }

// signed returns a Standard Webhooks request for body with event id.
func signed(t *testing.T, id string, body []byte) *http.Request {
	t.Helper()
	scheme, _ := signature.Lookup("standard")
	secret, err := scheme.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := scheme.Sign(signature.Message{ID: id, Timestamp: time.Now(), Body: body}, []signature.Secret{secret})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "http://example.com/hook", bytes.NewReader(body))
	for k, v := range hdr {
		r.Header[k] = v
	}
	repl := caddy.NewReplacer()
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
	return r.WithContext(ctx)
}

// upstreamFunc adapts a function to the next handler.
type upstreamFunc func(w http.ResponseWriter, r *http.Request) error

func (f upstreamFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }

func ok(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain")
	_, err := w.Write([]byte("ok"))
	return err
}

func TestClientGoneMidUpstreamReleasesClaim(t *testing.T) {
	h, db := newHandler(t, nil)
	body := []byte(`{"n":1}`)
	r := signed(t, "msg_gone", body)
	ctx, cancel := context.WithCancel(r.Context())
	r = r.WithContext(ctx)
	upstream := upstreamFunc(func(w http.ResponseWriter, r *http.Request) error {
		cancel() // the client goes away while the upstream works
		<-r.Context().Done()
		return caddyhttp.Error(http.StatusBadGateway, r.Context().Err())
	})
	if err := h.ServeHTTP(httptest.NewRecorder(), r, upstream); err == nil {
		t.Fatal("want the upstream's error")
	}
	// The claim was released on a context that outlived the request's.
	_, owned, err := db.Reserve(context.Background(), "standard:id:msg_gone", "probe", time.Minute)
	if err != nil || !owned {
		t.Fatalf("claim still held after the client left: owned=%v err=%v", owned, err)
	}
}

func TestSlowUpstreamKeepsLease(t *testing.T) {
	h, _ := newHandler(t, func(h *Handler) { h.Lease = caddy.Duration(600 * time.Millisecond) })
	body := []byte(`{"n":2}`)
	release := make(chan struct{})
	var forwarded sync.WaitGroup
	forwarded.Add(1)
	go func() {
		defer forwarded.Done()
		_ = h.ServeHTTP(httptest.NewRecorder(), signed(t, "msg_slow", body), upstreamFunc(func(w http.ResponseWriter, r *http.Request) error {
			<-release
			return ok(w, r)
		}))
	}()
	// Three leases later, the first delivery is still upstream; the lease
	// was renewed, so a duplicate is told it is in flight.
	deadline := time.NewTimer(3 * 600 * time.Millisecond)
	<-deadline.C
	w := httptest.NewRecorder()
	err := h.ServeHTTP(w, signed(t, "msg_slow", body), upstreamFunc(func(w http.ResponseWriter, r *http.Request) error {
		t.Error("duplicate forwarded while the first delivery was in flight")
		return ok(w, r)
	}))
	close(release)
	forwarded.Wait()
	if err != nil || w.Code != http.StatusConflict || w.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d %q err=%v", w.Code, w.Body, err)
	}
}

func TestRefusedRequestsWriteNothing(t *testing.T) {
	h, db := newHandler(t, nil)
	body := []byte(`{"n":3}`)
	for i := range 200 {
		r := signed(t, "msg_victim", body)
		r.Header.Set("webhook-signature", "v1,"+strings.Repeat("A", 43)+"=")
		if i%2 == 0 {
			r.Header.Del("webhook-signature")
		}
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, r, upstreamFunc(ok))
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("got %d", w.Code)
		}
	}
	if n, err := db.Len(context.Background()); err != nil || n != 0 {
		t.Fatalf("refused requests wrote %d keys", n)
	}
	// The genuine request still gets through.
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, signed(t, "msg_victim", body), upstreamFunc(ok)); err != nil || w.Code != 200 || w.Body.String() != "ok" {
		t.Fatalf("genuine: %d %q %v", w.Code, w.Body, err)
	}
	if n, err := db.Len(context.Background()); err != nil || n != 1 {
		t.Fatalf("after the genuine request: %d keys, %v", n, err)
	}
}

// readCounter counts the bytes read from a body.
type readCounter struct {
	r io.Reader
	n int
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestBodyLimit(t *testing.T) {
	h, _ := newHandler(t, func(h *Handler) { h.MaxBody = 1024 })
	big := bytes.Repeat([]byte("x"), 1<<20)

	t.Run("declared", func(t *testing.T) {
		r := signed(t, "msg_big", big)
		counter := &readCounter{r: r.Body}
		r.Body = io.NopCloser(counter)
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, r, upstreamFunc(ok))
		if w.Code != http.StatusRequestEntityTooLarge || counter.n != 0 {
			t.Fatalf("got %d after reading %d bytes", w.Code, counter.n)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		r := signed(t, "msg_big", big)
		r.ContentLength = -1
		counter := &readCounter{r: r.Body}
		r.Body = io.NopCloser(counter)
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, r, upstreamFunc(ok))
		if w.Code != http.StatusRequestEntityTooLarge || counter.n > 1024+32<<10 {
			t.Fatalf("got %d after reading %d bytes", w.Code, counter.n)
		}
	})
}

func TestGzipBodyVerifiedAsReceived(t *testing.T) {
	h, _ := newHandler(t, nil)
	compressed := []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xcaH\xcd\xc9\xc9\x07\x04\x00\x00\xff\xff\x86\xa6\x106\x05\x00\x00\x00")
	r := signed(t, "msg_gzip", compressed)
	r.Header.Set("Content-Encoding", "gzip")
	var got []byte
	w := httptest.NewRecorder()
	err := h.ServeHTTP(w, r, upstreamFunc(func(w http.ResponseWriter, r *http.Request) error {
		got, _ = io.ReadAll(r.Body)
		return ok(w, r)
	}))
	if err != nil || w.Code != 200 || !bytes.Equal(got, compressed) {
		t.Fatalf("got %d, upstream body %q", w.Code, got)
	}
}

func TestStoreFailureFailsClosed(t *testing.T) {
	h, db := newHandler(t, nil)
	db.Close()
	w := httptest.NewRecorder()
	err := h.ServeHTTP(w, signed(t, "msg_closed", []byte(`{}`)), upstreamFunc(func(w http.ResponseWriter, r *http.Request) error {
		t.Error("forwarded without a dedupe claim")
		return nil
	}))
	if err != nil || w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "store_unavailable") ||
		w.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d %q %v, Retry-After %q", w.Code, w.Body, err, w.Header().Get("Retry-After"))
	}
}

func TestHandleErrorsGetsHandlerError(t *testing.T) {
	h, _ := newHandler(t, nil)
	r := signed(t, "msg_err", []byte(`{}`))
	r.Header.Del("webhook-signature")
	srv := &caddyhttp.Server{Errors: &caddyhttp.HTTPErrorConfig{Routes: caddyhttp.RouteList{{}}}}
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.ServerCtxKey, srv))
	err := h.ServeHTTP(httptest.NewRecorder(), r, upstreamFunc(ok))
	var he caddyhttp.HandlerError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized {
		t.Fatalf("want a 401 handler error, got %v", err)
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if code, _ := repl.GetString("http.webhook.error"); code != "missing_signature" {
		t.Fatalf("http.webhook.error = %q", code)
	}
}

func TestMetricsOnTwoRegistries(t *testing.T) {
	for range 2 {
		reg := prometheus.NewPedanticRegistry()
		for range 2 { // two handlers in one config
			if _, err := registerMetrics(reg); err != nil {
				t.Fatal(err)
			}
		}
	}
	h, _ := newHandler(t, nil)
	before := testutil.ToFloat64(collectors.requests.WithLabelValues("standard", "verified"))
	w := httptest.NewRecorder()
	_ = h.ServeHTTP(w, signed(t, "msg_metric", []byte(`{}`)), upstreamFunc(ok))
	if got := testutil.ToFloat64(collectors.requests.WithLabelValues("standard", "verified")); got != before+1 {
		t.Fatalf("verified count %v, want %v", got, before+1)
	}
}

func TestPlaceholders(t *testing.T) {
	h, _ := newHandler(t, nil)
	r := signed(t, "msg_ph", []byte(`{}`))
	var seen map[string]string
	_ = h.ServeHTTP(httptest.NewRecorder(), r, upstreamFunc(func(w http.ResponseWriter, r *http.Request) error {
		repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		seen = map[string]string{}
		for _, k := range []string{"scheme", "id", "timestamp", "secret", "duplicate"} {
			seen[k], _ = repl.GetString("http.webhook." + k)
		}
		return ok(w, r)
	}))
	if seen["scheme"] != "standard" || seen["id"] != "msg_ph" || seen["timestamp"] == "" ||
		len(seen["secret"]) != 8 || seen["duplicate"] != "false" || strings.Contains(testSecret, seen["secret"]) {
		t.Fatalf("placeholders %v", seen)
	}
}

func TestRequestURL(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://hooks.example.com:8080/twilio?a=1", nil)
	if got := requestURL(r); got != "http://hooks.example.com:8080/twilio?a=1" {
		t.Fatalf("plain: %s", got)
	}
	// A rewrite does not change what the sender signed.
	orig, origURL := *r, *r.URL
	orig.URL = &origURL
	rewritten := r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, orig))
	rewritten.URL = &url.URL{Path: "/internal/twilio"}
	if got := requestURL(rewritten); got != "http://hooks.example.com:8080/twilio?a=1" {
		t.Fatalf("rewritten: %s", got)
	}
	// Forwarded headers count only from a trusted proxy.
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "public.example.com")
	if got := requestURL(r); got != "http://hooks.example.com:8080/twilio?a=1" {
		t.Fatalf("untrusted proxy: %s", got)
	}
	vars := map[string]any{caddyhttp.TrustedProxyVarKey: true}
	trusted := r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
	if got := requestURL(trusted); got != "https://public.example.com/twilio?a=1" {
		t.Fatalf("trusted proxy: %s", got)
	}
}

// TestPresetDefaultTolerance: without a configured tolerance a preset's
// recommended one applies, else the 5m default; a configured one wins.
func TestPresetDefaultTolerance(t *testing.T) {
	for _, tc := range []struct {
		scheme    string
		set, want time.Duration
	}{
		{"calendly", 0, 3 * time.Minute},
		{"twitch", 0, 10 * time.Minute},
		{"zoom", 0, defaultTolerance},
		{"twitch", time.Minute, time.Minute},
	} {
		h, _ := newHandler(t, func(h *Handler) {
			h.Scheme, h.Tolerance = tc.scheme, caddy.Duration(tc.set)
			h.Secrets = []Secret{{Value: "tolerance-test-secret"}}
		})
		if got := time.Duration(h.Tolerance); got != tc.want {
			t.Errorf("%s with tolerance %s: got %s, want %s", tc.scheme, tc.set, got, tc.want)
		}
	}
}
