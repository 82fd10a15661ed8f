package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/hookguard/hookguard/module/store"
	"github.com/hookguard/hookguard/module/store/storetest"
)

func TestBadgerConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openBadger(t, t.TempDir(), now)
	})
}

func TestBadgerOutboundConformance(t *testing.T) {
	storetest.RunOutbound(t, func(t *testing.T, now func() time.Time) store.Store {
		return openBadger(t, t.TempDir(), now)
	})
}

// TestBadgerOutboundSurvivesReopen is the basis of the kill -9 guarantee
// (cases 48 and 49): what CreateEvent acknowledged is still queued after the
// store is closed and reopened, a delivery leased when the process stopped
// comes due again once its lease lapses, and endpoints and idempotency keys
// are kept.
func TestBadgerOutboundSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := storetest.NewClock(storetest.Start)
	b := openBadger(t, dir, clk.Now)
	ep := store.Endpoint{ID: "we_a", Name: "a", URL: "https://example.com", Status: store.EndpointActive}
	if err := b.PutEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ev := store.Event{ID: fmt.Sprintf("wevt_%04d", i), Type: "t", Created: clk.Now(), Data: []byte(`{"i":` + fmt.Sprint(i) + `}`), IdempotencyKey: fmt.Sprintf("key-%d", i)}
		d := store.Delivery{ID: fmt.Sprintf("wdlv_%04d", i), EventID: ev.ID, EndpointID: "we_a", Status: store.DeliveryPending, NextAttemptAt: clk.Now()}
		if _, _, created, err := b.CreateEvent(ctx, ev, []store.Delivery{d}, storetest.Retention); err != nil || !created {
			t.Fatalf("CreateEvent %d: created=%v err=%v", i, created, err)
		}
	}
	// One delivery is in flight when the process stops.
	inFlight, err := b.ClaimDue(ctx, clk.Now(), 1, "dead-worker", storetest.Lease)
	if err != nil || len(inFlight) != 1 || inFlight[0].ID != "wdlv_0000" {
		t.Fatalf("ClaimDue before the stop = (%+v, %v)", inFlight, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = openBadger(t, dir, clk.Now)
	got, err := b.ClaimDue(ctx, clk.Now(), 10, "new-worker", storetest.Lease)
	if err != nil || len(got) != 2 || got[0].ID != "wdlv_0001" || got[1].ID != "wdlv_0002" {
		t.Fatalf("ClaimDue after reopen = (%+v, %v), want wdlv_0001 and wdlv_0002", got, err)
	}
	if due, scheduled, err := b.QueueDepth(ctx, clk.Now().Add(storetest.Lease)); err != nil || due != 3 || scheduled != 0 {
		t.Fatalf("QueueDepth after reopen = (%d, %d, %v), want (3, 0)", due, scheduled, err)
	}
	clk.Advance(storetest.Lease)
	got, err = b.ClaimDue(ctx, clk.Now(), 1, "new-worker", storetest.Lease)
	if err != nil || len(got) != 1 || got[0].ID != "wdlv_0000" {
		t.Fatalf("ClaimDue once the dead worker's lease lapsed = (%+v, %v), want wdlv_0000", got, err)
	}
	done := inFlight[0]
	done.Status = store.DeliverySucceeded
	if err := b.UpdateDelivery(ctx, done, "dead-worker"); !errors.Is(err, store.ErrNotOwner) {
		t.Fatalf("the dead worker's late update = %v, want ErrNotOwner", err)
	}
	dup := store.Event{ID: "wevt_0009", Type: "t", Created: clk.Now(), Data: []byte(`{}`), IdempotencyKey: "key-1"}
	if ev, _, created, err := b.CreateEvent(ctx, dup, nil, storetest.Retention); err != nil || created || ev.ID != "wevt_0001" {
		t.Fatalf("CreateEvent with a key from before the reopen = (%s, %v, %v), want wevt_0001, not created", ev.ID, created, err)
	}
	if e, err := b.GetEndpoint(ctx, "we_a"); err != nil || e.URL != ep.URL {
		t.Fatalf("GetEndpoint after reopen = (%+v, %v)", e, err)
	}
	if ev, _, err := b.GetEvent(ctx, "wevt_0002"); err != nil || string(ev.Data) != `{"i":2}` {
		t.Fatalf("GetEvent after reopen = (%+v, %v)", ev, err)
	}
}

// TestBadgerSurvivesReopen: a done claim is still done after a restart, and
// a claim left in flight by a process that died expires on its own (case 34).
func TestBadgerSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := storetest.NewClock(storetest.Start)
	b := openBadger(t, dir, clk.Now)
	resp := store.Response{Status: 200, ContentType: "application/json", Body: []byte(`{"ok":true}`)}
	reserve(t, b, "done", "a", true)
	if err := b.Commit(ctx, "done", "a", resp, storetest.TTL); err != nil {
		t.Fatal(err)
	}
	reserve(t, b, "in-flight", "a", true)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = openBadger(t, dir, clk.Now)
	c := reserve(t, b, "done", "b", false)
	if c.State != store.Done || c.Response.Status != 200 || string(c.Response.Body) != `{"ok":true}` {
		t.Fatalf("after reopen: %+v, want the done claim", c)
	}
	if c := reserve(t, b, "in-flight", "b", false); c.Token != "a" {
		t.Fatalf("after reopen: %+v, want a's lease", c)
	}
	clk.Advance(storetest.Lease)
	reserve(t, b, "in-flight", "b", true)
}

// TestBadgerDirInUse: a second open of a directory fails clearly instead of
// sharing it (case 37), and the directory opens again once closed.
func TestBadgerDirInUse(t *testing.T) {
	dir := t.TempDir()
	b := openBadger(t, dir, time.Now)
	_, err := store.OpenBadger(dir, store.BadgerOptions{})
	if !errors.Is(err, store.ErrDirInUse) {
		t.Fatalf("second open: %v, want ErrDirInUse", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	openBadger(t, dir, time.Now)
}

// TestBadgerGCLoopAndClose runs a fast GC loop under traffic; Close must stop
// it and return (the race detector watches the shutdown).
func TestBadgerGCLoopAndClose(t *testing.T) {
	b, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{
		Logger:     zaptest.NewLogger(t),
		GCInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		key := string(rune('a' + i%26))
		reserve(t, b, key, "t", true)
		if err := b.Release(context.Background(), key, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func openBadger(t *testing.T, dir string, now func() time.Time) *store.Badger {
	t.Helper()
	b, err := store.OpenBadger(dir, store.BadgerOptions{Logger: zaptest.NewLogger(t), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func reserve(t *testing.T, b *store.Badger, key, token string, wantOwned bool) store.Claim {
	t.Helper()
	c, owned, err := b.Reserve(context.Background(), key, token, storetest.Lease)
	if err != nil {
		t.Fatal(err)
	}
	if owned != wantOwned {
		t.Fatalf("Reserve(%q, %q) owned = %v, want %v (claim %+v)", key, token, owned, wantOwned, c)
	}
	return c
}
