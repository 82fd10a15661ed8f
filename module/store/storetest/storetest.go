// Package storetest is the conformance suite that every store.Store backend
// runs unchanged. The suite drives time with its own Clock and never sleeps,
// so a backend must measure every lease and retention period by the clock it
// is handed, not by the wall clock.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/hookguard/hookguard/module/store"
)

// Clock is a fake clock that tests advance by hand. It is safe for
// concurrent use. Create one with NewClock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads start until advanced.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Start is the time every suite clock starts at. It is far from the wall
// clock on purpose, so that expiry read from the wall clock shows up.
var Start = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// Lease and TTL are the lease and done-retention periods the suite uses
// unless a test says otherwise.
const (
	Lease = 30 * time.Second
	TTL   = 96 * time.Hour
)

// Run runs the conformance suite against the backend that open creates.
// Each subtest calls open once, in parallel with the others; open must
// return a new, empty store whose expiry reads now, and must register the
// store's Close with t.Cleanup. Some subtests close the store themselves,
// so Close must be idempotent.
func Run(t *testing.T, open func(t *testing.T, now func() time.Time) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store, clk *Clock)
	}{
		{"reserve_new_is_owned", testReserveNew},
		{"reserve_in_flight_is_refused", testReserveInFlight},
		{"commit_then_reserve_returns_done", testCommitDone},
		{"release_makes_key_reservable", testRelease},
		{"stale_token_cannot_touch_new_owner", testStaleToken},
		{"expired_lease_is_reservable", testExpiredLease},
		{"extend_pushes_lease", testExtend},
		{"done_expires_after_ttl", testDoneExpires},
		{"wrong_token_is_not_owner", testWrongToken},
		{"absent_key_is_not_owned", testAbsentKey},
		{"done_claim_has_no_owner", testDoneHasNoOwner},
		{"concurrent_reserve_has_one_owner", testConcurrentReserve},
		{"extend_racing_commit", testExtendRacingCommit},
		{"keys_are_independent", testIndependentKeys},
		{"bodies_round_trip", testBodies},
		{"cancelled_context_writes_nothing", testCancelledContext},
		{"invalid_arguments_are_rejected", testInvalidArguments},
		{"closed_store", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := NewClock(Start)
			tt.run(t, open(t, clk.Now), clk)
		})
	}
}

func testReserveNew(t *testing.T, s store.Store, clk *Clock) {
	c := mustReserve(t, s, "k", "a", Lease, true)
	want := store.Claim{State: store.InFlight, Token: "a", Expires: Start.Add(Lease)}
	assertClaim(t, c, want)
}

func testReserveInFlight(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	clk.Advance(Lease / 2)
	want := store.Claim{State: store.InFlight, Token: "a", Expires: Start.Add(Lease)}
	assertClaim(t, mustReserve(t, s, "k", "b", Lease, false), want)
	// Reserve is not reentrant: the owner itself is refused too.
	assertClaim(t, mustReserve(t, s, "k", "a", Lease, false), want)
}

func testCommitDone(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	clk.Advance(5 * time.Second)
	resp := store.Response{Status: 201, ContentType: "application/octet-stream", Body: allBytes()}
	mustCommit(t, s, "k", "a", resp, TTL)
	clk.Advance(time.Minute)
	c := mustReserve(t, s, "k", "b", Lease, false)
	assertDone(t, c, resp, Start.Add(5*time.Second+TTL))
	// The body handed to Commit is the caller's: changing it later must not
	// change the stored response.
	resp.Body[0] ^= 0xff
	c = mustReserve(t, s, "k", "a", Lease, false)
	if c.Response.Body[0] == resp.Body[0] {
		t.Fatal("stored body aliases the slice passed to Commit")
	}
}

func testRelease(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	mustOK(t, s.Release(ctx(), "k", "a"))
	c := mustReserve(t, s, "k", "b", Lease, true)
	assertClaim(t, c, store.Claim{State: store.InFlight, Token: "b", Expires: Start.Add(Lease)})
	// The old token lost everything with its release.
	assertNotOwner(t, s.Release(ctx(), "k", "a"))
}

func testStaleToken(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	clk.Advance(Lease + time.Second)
	mustReserve(t, s, "k", "b", Lease, true)
	newOwner := store.Claim{State: store.InFlight, Token: "b", Expires: clk.Now().Add(Lease)}

	assertNotOwner(t, s.Extend(ctx(), "k", "a", Lease))
	assertNotOwner(t, s.Commit(ctx(), "k", "a", store.Response{Status: 200, Body: []byte("stale")}, TTL))
	assertNotOwner(t, s.Release(ctx(), "k", "a"))

	assertClaim(t, mustReserve(t, s, "k", "c", Lease, false), newOwner)
	resp := store.Response{Status: 200, ContentType: "text/plain", Body: []byte("fresh")}
	mustCommit(t, s, "k", "b", resp, TTL)
	assertDone(t, mustReserve(t, s, "k", "c", Lease, false), resp, clk.Now().Add(TTL))
}

func testExpiredLease(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	clk.Advance(Lease - time.Millisecond)
	mustReserve(t, s, "k", "b", Lease, false)
	// At Expires the lease has lapsed, for its holder as for everyone else.
	clk.Advance(time.Millisecond)
	assertNotOwner(t, s.Extend(ctx(), "k", "a", Lease))
	assertNotOwner(t, s.Commit(ctx(), "k", "a", store.Response{Status: 200}, TTL))
	c := mustReserve(t, s, "k", "b", Lease, true)
	assertClaim(t, c, store.Claim{State: store.InFlight, Token: "b", Expires: Start.Add(2 * Lease)})
}

func testExtend(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	clk.Advance(20 * time.Second)
	assertNotOwner(t, s.Extend(ctx(), "k", "b", Lease))
	mustOK(t, s.Extend(ctx(), "k", "a", Lease))
	extended := Start.Add(20*time.Second + Lease)

	clk.Advance(Lease - 20*time.Second) // the original lease's end
	assertClaim(t, mustReserve(t, s, "k", "b", Lease, false),
		store.Claim{State: store.InFlight, Token: "a", Expires: extended})
	clk.Advance(extended.Sub(clk.Now()))
	mustReserve(t, s, "k", "b", Lease, true)
}

func testDoneExpires(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	resp := store.Response{Status: 204}
	mustCommit(t, s, "k", "a", resp, time.Hour)
	clk.Advance(time.Hour - time.Millisecond)
	assertDone(t, mustReserve(t, s, "k", "b", Lease, false), resp, Start.Add(time.Hour))
	clk.Advance(time.Millisecond)
	mustReserve(t, s, "k", "b", Lease, true)
}

func testWrongToken(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	assertNotOwner(t, s.Extend(ctx(), "k", "b", time.Hour))
	assertNotOwner(t, s.Commit(ctx(), "k", "b", store.Response{Status: 200}, TTL))
	assertNotOwner(t, s.Release(ctx(), "k", "b"))
	assertClaim(t, mustReserve(t, s, "k", "c", Lease, false),
		store.Claim{State: store.InFlight, Token: "a", Expires: Start.Add(Lease)})
	mustCommit(t, s, "k", "a", store.Response{Status: 200}, TTL)
}

func testAbsentKey(t *testing.T, s store.Store, clk *Clock) {
	assertNotOwner(t, s.Release(ctx(), "k", "a"))
	assertNotOwner(t, s.Extend(ctx(), "k", "a", Lease))
	assertNotOwner(t, s.Commit(ctx(), "k", "a", store.Response{Status: 200}, TTL))
	// None of them may have created the key.
	mustReserve(t, s, "k", "a", Lease, true)
}

func testDoneHasNoOwner(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	resp := store.Response{Status: 200, Body: []byte("first")}
	mustCommit(t, s, "k", "a", resp, TTL)
	assertNotOwner(t, s.Extend(ctx(), "k", "a", Lease))
	assertNotOwner(t, s.Commit(ctx(), "k", "a", store.Response{Status: 202, Body: []byte("second")}, TTL))
	assertNotOwner(t, s.Release(ctx(), "k", "a"))
	assertDone(t, mustReserve(t, s, "k", "b", Lease, false), resp, Start.Add(TTL))
}

func testConcurrentReserve(t *testing.T, s store.Store, clk *Clock) {
	const n = 100
	type result struct {
		token string
		claim store.Claim
		owned bool
		err   error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			r.token = fmt.Sprintf("t%d", i)
			<-start
			r.claim, r.owned, r.err = s.Reserve(ctx(), "k", r.token, Lease)
		})
	}
	close(start)
	wg.Wait()

	var owners []string
	for _, r := range results {
		switch {
		case r.err != nil:
			t.Fatalf("Reserve(%s): %v", r.token, r.err)
		case r.owned:
			owners = append(owners, r.token)
		case r.claim.State != store.InFlight:
			t.Errorf("Reserve(%s) not owned with state %v, want in_flight", r.token, r.claim.State)
		}
	}
	if len(owners) != 1 {
		t.Fatalf("%d owners %v, want exactly 1", len(owners), owners)
	}
	c := mustReserve(t, s, "k", "late", Lease, false)
	if c.Token != owners[0] {
		t.Fatalf("stored owner %q, but Reserve told %q it owns the key", c.Token, owners[0])
	}
}

// testExtendRacingCommit runs the owner's lease keep-alive against its own
// Commit: whichever lands first, Commit succeeds and the key ends done.
func testExtendRacingCommit(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	extendErr := make(chan error, 1)
	go func() {
		for range 20 {
			if err := s.Extend(ctx(), "k", "a", Lease); err != nil {
				extendErr <- err
				return
			}
		}
		extendErr <- nil
	}()
	resp := store.Response{Status: 200, Body: []byte("ok")}
	mustCommit(t, s, "k", "a", resp, TTL)
	if err := <-extendErr; err != nil {
		assertNotOwner(t, err)
	}
	assertDone(t, mustReserve(t, s, "k", "b", Lease, false), resp, Start.Add(TTL))
}

func testIndependentKeys(t *testing.T, s store.Store, clk *Clock) {
	// "k" is a prefix of "k1": a backend must not match keys by prefix.
	mustReserve(t, s, "k", "a", Lease, true)
	mustReserve(t, s, "k1", "a", Lease, true)
	mustReserve(t, s, "k2", "b", Lease, true)
	resp := store.Response{Status: 200, Body: []byte("k")}
	mustCommit(t, s, "k", "a", resp, TTL)
	mustOK(t, s.Release(ctx(), "k1", "a"))

	assertDone(t, mustReserve(t, s, "k", "c", Lease, false), resp, Start.Add(TTL))
	mustReserve(t, s, "k1", "c", Lease, true)
	assertClaim(t, mustReserve(t, s, "k2", "c", Lease, false),
		store.Claim{State: store.InFlight, Token: "b", Expires: Start.Add(Lease)})
}

func testBodies(t *testing.T, s store.Store, clk *Clock) {
	big := make([]byte, 64<<10)
	rand.NewChaCha8([32]byte{'h', 'o', 'o', 'k'}).Read(big)
	for i, resp := range []store.Response{
		{Status: 200},
		{Status: 200, ContentType: "application/json", Body: []byte{}},
		{Status: 299, ContentType: "application/octet-stream", Body: big},
	} {
		key := fmt.Sprintf("k%d", i)
		mustReserve(t, s, key, "a", Lease, true)
		mustCommit(t, s, key, "a", resp, TTL)
		assertDone(t, mustReserve(t, s, key, "b", Lease, false), resp, Start.Add(TTL))
	}
}

func testCancelledContext(t *testing.T, s store.Store, clk *Clock) {
	cancelled, cancel := context.WithCancel(ctx())
	cancel()
	if _, _, err := s.Reserve(cancelled, "k", "a", Lease); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reserve with a cancelled context: %v, want context.Canceled", err)
	}
	mustReserve(t, s, "k", "b", Lease, true)

	for name, err := range map[string]error{
		"Extend":  s.Extend(cancelled, "k", "b", time.Hour),
		"Commit":  s.Commit(cancelled, "k", "b", store.Response{Status: 200}, TTL),
		"Release": s.Release(cancelled, "k", "b"),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
	assertClaim(t, mustReserve(t, s, "k", "c", Lease, false),
		store.Claim{State: store.InFlight, Token: "b", Expires: Start.Add(Lease)})
}

func testInvalidArguments(t *testing.T, s store.Store, clk *Clock) {
	ok := store.Response{Status: 200}
	for name, err := range map[string]error{
		"Reserve empty key":   reserveErr(s, "", "a", Lease),
		"Reserve empty token": reserveErr(s, "k", "", Lease),
		"Reserve zero lease":  reserveErr(s, "k", "a", 0),
		"Extend empty token":  s.Extend(ctx(), "k", "", Lease),
		"Extend negative":     s.Extend(ctx(), "k", "a", -time.Second),
		"Commit empty key":    s.Commit(ctx(), "", "a", ok, TTL),
		"Commit zero ttl":     s.Commit(ctx(), "k", "a", ok, 0),
		"Release empty key":   s.Release(ctx(), "", "a"),
		"Release empty token": s.Release(ctx(), "k", ""),
		"Reserve negative":    reserveErr(s, "k", "a", -Lease),
	} {
		if err == nil || errors.Is(err, store.ErrNotOwner) {
			t.Errorf("%s: %v, want an argument error", name, err)
		}
	}
	// Nothing was written on the way.
	mustReserve(t, s, "k", "a", Lease, true)
}

func testClosed(t *testing.T, s store.Store, clk *Clock) {
	mustReserve(t, s, "k", "a", Lease, true)
	mustOK(t, s.Close())
	mustOK(t, s.Close())
	if _, _, err := s.Reserve(ctx(), "k", "b", Lease); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Reserve after Close: %v, want ErrClosed", err)
	}
	for name, err := range map[string]error{
		"Extend":  s.Extend(ctx(), "k", "a", Lease),
		"Commit":  s.Commit(ctx(), "k", "a", store.Response{Status: 200}, TTL),
		"Release": s.Release(ctx(), "k", "a"),
	} {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// ctx is the context of every call that is not about cancellation.
func ctx() context.Context {
	return context.Background()
}

func mustReserve(t *testing.T, s store.Store, key, token string, lease time.Duration, wantOwned bool) store.Claim {
	t.Helper()
	c, owned, err := s.Reserve(ctx(), key, token, lease)
	if err != nil {
		t.Fatalf("Reserve(%q, %q): %v", key, token, err)
	}
	if owned != wantOwned {
		t.Fatalf("Reserve(%q, %q) owned = %v, want %v (claim %+v)", key, token, owned, wantOwned, c)
	}
	return c
}

func mustCommit(t *testing.T, s store.Store, key, token string, resp store.Response, ttl time.Duration) {
	t.Helper()
	if err := s.Commit(ctx(), key, token, resp, ttl); err != nil {
		t.Fatalf("Commit(%q, %q): %v", key, token, err)
	}
}

func reserveErr(s store.Store, key, token string, lease time.Duration) error {
	_, _, err := s.Reserve(ctx(), key, token, lease)
	return err
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func assertNotOwner(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotOwner) {
		t.Fatalf("got %v, want ErrNotOwner", err)
	}
}

// assertClaim compares an in-flight claim: state, token and expiry.
func assertClaim(t *testing.T, got, want store.Claim) {
	t.Helper()
	if got.State != want.State || got.Token != want.Token || !got.Expires.Equal(want.Expires) {
		t.Fatalf("claim = {%v %q %v}, want {%v %q %v}",
			got.State, got.Token, got.Expires, want.State, want.Token, want.Expires)
	}
}

// assertDone checks a done claim and its response byte for byte. An empty
// body may come back nil.
func assertDone(t *testing.T, got store.Claim, resp store.Response, expires time.Time) {
	t.Helper()
	if got.State != store.Done || !got.Expires.Equal(expires) {
		t.Fatalf("claim = {%v %v}, want {done %v}", got.State, got.Expires, expires)
	}
	r := got.Response
	if r.Status != resp.Status || r.ContentType != resp.ContentType || !bytes.Equal(r.Body, resp.Body) {
		t.Fatalf("response = {%d %q %d bytes}, want {%d %q %d bytes} byte for byte",
			r.Status, r.ContentType, len(r.Body), resp.Status, resp.ContentType, len(resp.Body))
	}
}

// allBytes returns every byte value once, so that an encoding that mangles
// binary data shows.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
