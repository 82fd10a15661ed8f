package store_test

import (
	"context"
	"errors"
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
