package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookguard/hookguard/internal/redistest"
	"github.com/hookguard/hookguard/module/store"
	"github.com/hookguard/hookguard/module/store/storetest"
)

// prefixes makes every store of a test binary a namespace of its own, so
// that subtests share one redis-server and still start empty.
var prefixes atomic.Int64

func TestRedisConformance(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openRedis(t, srv.URL(), newPrefix(), now)
	})
}

func TestRedisOutboundConformance(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	storetest.RunOutbound(t, func(t *testing.T, now func() time.Time) store.Store {
		return openRedis(t, srv.URL(), newPrefix(), now)
	})
}

// TestRedisExpiry: logical expiry follows the store's clock, and Redis's own
// expiry is set on every key a little after it, as a backstop that
// collects garbage (in-flight claims, done records, events and their keys).
func TestRedisExpiry(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	prefix := newPrefix()
	clk := storetest.NewClock(storetest.Start)
	s := openRedis(t, srv.URL(), prefix, clk.Now)
	raw := rawClient(t, srv.URL())

	if _, owned, err := s.Reserve(ctx, "k", "a", time.Second); err != nil || !owned {
		t.Fatalf("Reserve = (%v, %v)", owned, err)
	}
	assertPTTL(t, raw, prefix+"d:k", time.Second, time.Second+2*time.Minute)
	if err := s.Commit(ctx, "k", "a", store.Response{Status: 200}, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	assertPTTL(t, raw, prefix+"d:k", 3*time.Hour, 3*time.Hour+2*time.Minute)

	ev := store.Event{ID: "wevt_1", Type: "t", Created: clk.Now(), Data: []byte(`{}`), IdempotencyKey: "idem"}
	d := store.Delivery{ID: "wdlv_1", EventID: ev.ID, EndpointID: "we_a", Status: store.DeliveryPending, NextAttemptAt: clk.Now()}
	if _, _, _, err := s.CreateEvent(ctx, ev, []store.Delivery{d}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ev:wevt_1", "dl:wdlv_1", "evdl:wevt_1", "idem:idem"} {
		assertPTTL(t, raw, prefix+k, time.Hour, time.Hour+2*time.Minute)
	}
	// The sorted sets have no expiry of their own: past retention, the
	// periodic QueueDepth drops the event's entries from them.
	clk.Advance(time.Hour)
	if _, _, err := s.QueueDepth(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"evs", "evexp", "q:due", "q:lease", "q:exp"} {
		if n, err := raw.Exists(ctx, prefix+k).Result(); err != nil || n != 0 {
			t.Fatalf("%s still held (%d, %v) after the retention", k, n, err)
		}
	}

	// With the wall clock, a lease lapses in real time, whatever Redis
	// still holds.
	wall := openRedis(t, srv.URL(), newPrefix(), time.Now)
	if _, owned, err := wall.Reserve(ctx, "k", "a", 100*time.Millisecond); err != nil || !owned {
		t.Fatalf("Reserve = (%v, %v)", owned, err)
	}
	if _, owned, _ := wall.Reserve(ctx, "k", "b", time.Minute); owned {
		t.Fatal("a live lease was taken over")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, owned, err := wall.Reserve(ctx, "k", "b", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if owned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lapsed lease was never taken over")
		}
		time.Sleep(20 * time.Millisecond) // waiting for the wall clock itself
	}
	if err := wall.Commit(ctx, "k", "a", store.Response{Status: 200}, time.Hour); !errors.Is(err, store.ErrNotOwner) {
		t.Fatalf("the lapsed holder's Commit = %v, want ErrNotOwner", err)
	}
}

// TestRedisScriptAtomicity runs several stores on one Redis, as replicas
// would, each with its own connections: one claim per key, one winner per
// idempotency key, each delivery leased once, and no update of an endpoint
// lost, however their scripts interleave.
func TestRedisScriptAtomicity(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	prefix := newPrefix()
	clk := storetest.NewClock(storetest.Start)
	var replicas []store.Store
	for range 4 {
		replicas = append(replicas, openRedis(t, srv.URL(), prefix, clk.Now))
	}
	const n = 200
	var owners, created atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 4*n)
	for i := range n {
		s := replicas[i%len(replicas)]
		wg.Go(func() {
			<-start
			if _, owned, err := s.Reserve(ctx, "same", fmt.Sprint("t", i), storetest.Lease); err != nil {
				errs <- err
			} else if owned {
				owners.Add(1)
			}
			ev := store.Event{ID: fmt.Sprintf("wevt_%04d", i), Type: "t", Created: storetest.Start, Data: []byte(`{}`), IdempotencyKey: fmt.Sprint("k", i%10)}
			var ds []store.Delivery
			for j := range 3 {
				ds = append(ds, store.Delivery{ID: fmt.Sprintf("wdlv_%04d_%d", i, j), EventID: ev.ID, EndpointID: "we_a",
					Status: store.DeliveryPending, NextAttemptAt: storetest.Start})
			}
			if _, _, ok, err := s.CreateEvent(ctx, ev, ds, storetest.Retention); err != nil {
				errs <- err
			} else if ok {
				created.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if owners.Load() != 1 || created.Load() != 10 {
		t.Fatalf("%d owners of one key (want 1), %d events created for 10 keys (want 10)", owners.Load(), created.Load())
	}

	var leased sync.Map
	var claims atomic.Int32
	if err := replicas[0].PutEndpoint(ctx, store.Endpoint{ID: "we_a", Status: store.EndpointActive}); err != nil {
		t.Fatal(err)
	}
	for w := range 8 {
		s := replicas[w%len(replicas)]
		wg.Go(func() {
			token := fmt.Sprint("worker-", w)
			for {
				ds, err := s.ClaimDue(ctx, storetest.Start, 2, token, storetest.Lease)
				if err != nil {
					errs <- err
					return
				}
				if len(ds) == 0 {
					return
				}
				for _, d := range ds {
					if prev, dup := leased.LoadOrStore(d.ID, token); dup {
						errs <- fmt.Errorf("%s leased by %s and %s", d.ID, prev, token)
					}
					claims.Add(1)
				}
				if _, err := s.UpdateEndpoint(ctx, "we_a", func(e *store.Endpoint) error {
					e.Health.ConsecutiveFailures++
					return nil
				}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if claims.Load() != 30 {
		t.Fatalf("%d deliveries leased, want 30", claims.Load())
	}
	e, err := replicas[3].GetEndpoint(ctx, "we_a")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Health.ConsecutiveFailures; got < 15 || got > 30 {
		t.Fatalf("%d endpoint updates recorded for 15 to 30 claim rounds", got)
	}
}

// TestRedisRestart: while Redis is down every call fails promptly with an
// error (never ErrNotOwner, never a claim), and once it is back the same
// store works again on fresh connections. Without persistence the data
// is gone; with the append-only file an acknowledged event survives even
// SIGKILL.
func TestRedisRestart(t *testing.T) {
	ctx := context.Background()
	for _, aof := range []bool{false, true} {
		t.Run(fmt.Sprintf("aof=%v", aof), func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{AOF: aof})
			clk := storetest.NewClock(storetest.Start)
			s := openRedis(t, srv.URL(), newPrefix(), clk.Now)
			ev := store.Event{ID: "wevt_1", Type: "t", Created: clk.Now(), Data: []byte(`{"a":1}`)}
			d := store.Delivery{ID: "wdlv_1", EventID: ev.ID, EndpointID: "we_a", Status: store.DeliveryPending, NextAttemptAt: clk.Now()}
			if _, _, _, err := s.CreateEvent(ctx, ev, []store.Delivery{d}, storetest.Retention); err != nil {
				t.Fatal(err)
			}
			srv.Kill()
			began := time.Now()
			if _, owned, err := s.Reserve(ctx, "k", "a", storetest.Lease); err == nil || owned || errors.Is(err, store.ErrNotOwner) {
				t.Fatalf("Reserve with Redis down = (%v, %v), want a store error", owned, err)
			}
			if _, err := s.ClaimDue(ctx, clk.Now(), 10, "w", storetest.Lease); err == nil {
				t.Fatal("ClaimDue with Redis down succeeded")
			}
			if took := time.Since(began); took > 10*time.Second {
				t.Fatalf("failing took %v", took)
			}
			srv.Restart()
			if _, owned, err := s.Reserve(ctx, "k", "a", storetest.Lease); err != nil || !owned {
				t.Fatalf("Reserve after the restart = (%v, %v), want the claim", owned, err)
			}
			got, err := s.ClaimDue(ctx, clk.Now(), 10, "w", storetest.Lease)
			if err != nil {
				t.Fatal(err)
			}
			if aof && (len(got) != 1 || got[0].ID != "wdlv_1") {
				t.Fatalf("after kill -9 with the AOF on: claimed %+v, want wdlv_1", got)
			}
			if !aof && len(got) != 0 {
				t.Fatalf("without persistence: claimed %+v, want nothing", got)
			}
		})
	}
}

// TestRedisStuck: while Redis answers nothing (SIGSTOP), a call fails
// with an error within a few seconds instead of hanging, and once Redis
// runs again the same store works.
func TestRedisStuck(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	s := openRedis(t, srv.URL(), newPrefix(), time.Now)
	if _, owned, err := s.Reserve(ctx, "before", "a", time.Minute); err != nil || !owned {
		t.Fatalf("Reserve = (%v, %v)", owned, err)
	}
	srv.Pause()
	began := time.Now()
	_, owned, err := s.Reserve(ctx, "k", "a", time.Minute)
	took := time.Since(began)
	srv.Resume()
	if err == nil || owned || errors.Is(err, store.ErrNotOwner) {
		t.Fatalf("Reserve with Redis stuck = (%v, %v), want a store error", owned, err)
	}
	if took > 8*time.Second {
		t.Fatalf("failing took %v", took)
	}
	t.Logf("a call to a stuck Redis failed after %v: %v", took.Round(time.Millisecond), err)
	if _, _, err := s.Reserve(ctx, "k2", "a", time.Minute); err != nil {
		t.Fatalf("Reserve once Redis runs again: %v", err)
	}
}

// TestRedisPasswordNeverShown: the URL's password appears in no error and
// in no description of the store.
func TestRedisPasswordNeverShown(t *testing.T) {
	const password = "pw-Zq8-never-shown"
	srv := redistest.Start(t, redistest.Options{Password: password})
	s := openRedis(t, srv.URL(), newPrefix(), time.Now)
	if strings.Contains(fmt.Sprint(s), password) {
		t.Fatalf("store description shows the password: %v", s)
	}
	var errs []error
	for _, url := range []string{
		strings.Replace(srv.URL(), password, password+"-wrong", 1),
		"redis://:" + password + "@127.0.0.1:bad port/0",
		"redis://:" + password + "@" + srv.Addr + "/notanumber",
		"http://:" + password + "@" + srv.Addr,
	} {
		_, err := store.OpenRedis(context.Background(), url, store.RedisOptions{})
		if err == nil {
			t.Fatalf("OpenRedis(%s) succeeded", store.RedactURL(url))
		}
		errs = append(errs, err)
	}
	srv.Kill()
	_, _, err := s.Reserve(context.Background(), "k", "a", time.Second)
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil || strings.Contains(err.Error(), password) {
			t.Errorf("error %v shows the password (or is nil)", err)
		}
	}
	if got := store.RedactURL(srv.URL()); strings.Contains(got, password) || !strings.Contains(got, srv.Addr) {
		t.Errorf("RedactURL = %q", got)
	}
}

func newPrefix() string {
	return fmt.Sprintf("test%d:", prefixes.Add(1))
}

func openRedis(t *testing.T, url, prefix string, now func() time.Time) *store.Redis {
	t.Helper()
	s, err := store.OpenRedis(context.Background(), url, store.RedisOptions{Prefix: prefix, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// rawClient is a plain client, for looking at what the store wrote.
func rawClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// assertPTTL checks that key has a Redis expiry between lo and hi.
func assertPTTL(t *testing.T, c *redis.Client, key string, lo, hi time.Duration) {
	t.Helper()
	got, err := c.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got < lo-time.Second || got > hi {
		t.Fatalf("PTTL(%s) = %v, want between %v and %v", key, got, lo, hi)
	}
}

// BenchmarkRedisClaimCommit is one inbound delivery's store work, a claim
// and its commit, from many goroutines at once, as a busy replica does it.
// It needs a redis-server, which it starts.
func BenchmarkRedisClaimCommit(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	s, err := store.OpenRedis(context.Background(), srv.URL(), store.RedisOptions{Prefix: newPrefix()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	resp := store.Response{Status: 200, ContentType: "application/json", Body: []byte(`{"ok":true}`)}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			key := fmt.Sprint("k", n.Add(1))
			if _, owned, err := s.Reserve(ctx, key, "t", time.Minute); err != nil || !owned {
				b.Fatalf("Reserve = (%v, %v)", owned, err)
			}
			if err := s.Commit(ctx, key, "t", resp, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRedisClaimSkipsExpired: a claim drops the queue entries of deliveries
// past their retention on its own, without a QueueDepth first, and hands
// out the live ones behind them.
func TestRedisClaimSkipsExpired(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	clk := storetest.NewClock(storetest.Start)
	s := openRedis(t, srv.URL(), newPrefix(), clk.Now)
	for i, retention := range []time.Duration{time.Hour, 2 * time.Hour} {
		ev := store.Event{ID: fmt.Sprintf("wevt_%d", i), Type: "t", Created: clk.Now(), Data: []byte(`{}`)}
		d := store.Delivery{ID: fmt.Sprintf("wdlv_%d", i), EventID: ev.ID, EndpointID: "we_a", Status: store.DeliveryPending,
			NextAttemptAt: storetest.Start.Add(time.Duration(i) * time.Second)}
		if _, _, _, err := s.CreateEvent(ctx, ev, []store.Delivery{d}, retention); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Hour)
	got, err := s.ClaimDue(ctx, clk.Now(), 10, "w", storetest.Lease)
	if err != nil || len(got) != 1 || got[0].ID != "wdlv_1" {
		t.Fatalf("ClaimDue = (%+v, %v), want wdlv_1 alone", got, err)
	}
	if due, scheduled, err := s.QueueDepth(ctx, clk.Now().Add(storetest.Lease)); err != nil || due != 1 || scheduled != 0 {
		t.Fatalf("QueueDepth = (%d, %d, %v), want the claimed delivery alone", due, scheduled, err)
	}
}
