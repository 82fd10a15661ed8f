package webhooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/hookguard/hookguard/internal/redistest"
	"github.com/hookguard/hookguard/module/store"
)

// Caddyfile errors of `storage redis`, each at its file and line.
func TestRedisStorageCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"webhooks {\n storage redis\n}", "needs a URL, such as redis://127.0.0.1:6379/0, at Testfile:2"},
		{"webhooks {\n storage redis {\n  prefix a:\n }\n}", "needs a URL, such as redis://127.0.0.1:6379/0, at Testfile:4"},
		{"webhooks {\n storage redis redis://h:1/0 {\n  url redis://h:2/0\n }\n}", "url already specified, at Testfile:3"},
		{"webhooks {\n storage redis {\n  lease 5s\n  lease 6s\n }\n}", "lease already specified, at Testfile:4"},
		{"webhooks {\n storage redis redis://h:1/0 {\n  lease soon\n }\n}", `lease: want a positive duration, got "soon", at Testfile:3`},
		{"webhooks {\n storage redis redis://h:1/0 {\n  lease -1s\n }\n}", "lease: want a positive duration"},
		{"webhooks {\n storage redis redis://h:1/0 {\n  prefix\n }\n}", "wrong argument count"},
		{"webhooks {\n storage redis redis://h:1/0 extra\n}", "wrong argument count or unexpected line ending after 'extra', at Testfile:2"},
		{"webhooks {\n storage redis http://h:1/0\n}", "invalid URL scheme: http, at Testfile:2"},
		{"webhooks {\n storage redis redis://:hunter2-pw@h:1/notadb\n}", "invalid database number"},
		{"webhooks {\n storage memcached\n}", `unrecognized storage backend "memcached" (want badger or redis), at Testfile:2`},
	} {
		err := new(App).UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2-pw") {
			t.Errorf("%q: the error shows the password: %v", tc.in, err)
		}
	}
}

// The storage replaces placeholders in the URL, shares one client between
// configs (a reload), and its lease becomes the workers' lease, which must
// outlast an attempt.
func TestRedisStorageProvision(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: "pw-from-the-env"})
	t.Setenv("HOOKGUARD_TEST_REDIS_PASSWORD", "pw-from-the-env")
	url := strings.Replace(srv.URL(), "pw-from-the-env", "{env.HOOKGUARD_TEST_REDIS_PASSWORD}", 1)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()

	old, next := &RedisStorage{URL: url}, &RedisStorage{URL: url}
	for _, s := range []*RedisStorage{old, next} {
		if err := s.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if old.Prefix != store.DefaultRedisPrefix || old.DeliveryLease() != defaultRedisLease {
		t.Fatalf("defaults: prefix %q, lease %v", old.Prefix, old.DeliveryLease())
	}
	a, err := old.Open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := next.Open()
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("two configs opened two clients for one URL and prefix")
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Reserve(context.Background(), "k", "t", time.Minute); err != nil {
		t.Fatalf("store closed under the running config: %v", err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := redises.References(next.open.key); ok {
		t.Fatal("the pool still holds the client after the last config let go")
	}

	app := &App{storage: &RedisStorage{Lease: caddy.Duration(10 * time.Second)}, Dispatch: &Dispatch{Timeout: caddy.Duration(10 * time.Second)}}
	if _, err := app.deliveryLease(); err == nil {
		t.Fatal("a lease no longer than the attempt timeout was accepted")
	}
	app.storage = &RedisStorage{Lease: caddy.Duration(time.Minute)}
	if lease, err := app.deliveryLease(); err != nil || lease != time.Minute {
		t.Fatalf("deliveryLease = (%v, %v), want the storage's 1m", lease, err)
	}
}

// A store that fails is answered 503 store_unavailable with Retry-After,
// and nothing is acknowledged: with Redis stopped, and with Badger's
// errors (here a closed database) alike.
func TestIntakeFailsClosed(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rs, err := store.OpenRedis(context.Background(), srv.URL(), store.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	srv.Kill()
	bs, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]store.Store{"redis down": rs, "badger failing": bs} {
		ready := make(chan struct{})
		close(ready)
		in := &Intake{app: &App{storage: fixedStorage{st}, logger: zap.NewNop(),
			dispatch: &dispatchRuntime{ready: ready, retention: time.Hour}}}
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"type":"a.b","data":{}}`))
		if err := in.ServeHTTP(w, r, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
			!strings.Contains(w.Body.String(), `"error":"store_unavailable"`) {
			t.Fatalf("%s: %d %v %s, want 503 store_unavailable with Retry-After", name, w.Code, w.Header(), w.Body)
		}
	}
}

// fixedStorage hands out a store that is already open.
type fixedStorage struct{ st store.Store }

func (f fixedStorage) Open() (store.Store, error) { return f.st, nil }
