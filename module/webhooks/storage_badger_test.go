package webhooks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hookguard/hookguard/module/store"
)

// opened provisions a storage module for dir and opens its store, as a
// config's Provision and the app's Start do.
func opened(t *testing.T, dir string) (*BadgerStorage, store.Store, error) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	s := &BadgerStorage{Dir: dir}
	if err := s.Provision(ctx); err != nil {
		return s, nil, err
	}
	st, err := s.Open()
	return s, st, err
}

func reserve(s store.Store, key string) error {
	_, _, err := s.Reserve(context.Background(), key, "token", time.Minute)
	return err
}

// A config reload provisions the new config before it cleans up the old
// one: both must share one open database, and it must close only when the
// last of them lets go.
func TestBadgerSharedAcrossConfigs(t *testing.T) {
	dir := t.TempDir()
	old, oldStore, err := opened(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	// The same directory, spelled differently, is the same database.
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, filepath.Join(dir, ".", "sub", ".."))
	if err != nil {
		t.Fatal(err)
	}
	next, nextStore, err := opened(t, rel)
	if err != nil {
		t.Fatalf("second config could not open the same directory: %v", err)
	}
	if oldStore != nextStore {
		t.Fatal("two configs opened two databases on one directory")
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := reserve(nextStore, "k"); err != nil {
		t.Fatalf("store closed under the running config: %v", err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := reserve(nextStore, "k2"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("store still open after the last config let go: %v", err)
	}
	if refs, ok := badgers.References(mustAbs(t, dir)); ok {
		t.Fatalf("pool still holds %d references", refs)
	}
}

// A config that fails to provision must not release the running config's
// database, and cleaning it up must be harmless.
func TestFailedProvisionReleasesNothing(t *testing.T) {
	running, runningStore, err := opened(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer running.Cleanup()
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	failed, _, err := opened(t, notADir)
	if err == nil {
		t.Fatal("opened a store in a regular file")
	}
	if err := failed.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := badgers.References(mustAbs(t, notADir)); ok {
		t.Fatal("failed open left a pool entry")
	}
	if err := reserve(runningStore, "k"); err != nil {
		t.Fatalf("running config's store was disturbed: %v", err)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// Provisioning alone, as `caddy validate` does, never opens the database,
// so it works beside a running Caddy that holds the directory.
func TestProvisionDoesNotOpen(t *testing.T) {
	dir := t.TempDir()
	running, _, err := opened(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer running.Cleanup()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	validating := &BadgerStorage{Dir: dir}
	if err := validating.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if refs, _ := badgers.References(mustAbs(t, dir)); refs != 1 {
		t.Fatalf("provisioning took a reference (%d)", refs)
	}
	if err := validating.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if refs, _ := badgers.References(mustAbs(t, dir)); refs != 1 {
		t.Fatalf("cleaning up an unopened storage released someone else's reference (%d)", refs)
	}
}

// After a reload the old config is cleaned up while its server finishes
// the requests under way; those must still reach the store the new config
// holds, and fail only once no config holds it.
func TestUnloadedConfigUsesTheRunningStore(t *testing.T) {
	dir := t.TempDir()
	old, oldStore, err := opened(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	next, _, err := opened(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	st, err := old.Open()
	if err != nil || st != oldStore {
		t.Fatalf("the unloaded config's Open = (%v, %v), want the running store", st, err)
	}
	if err := reserve(st, "k"); err != nil {
		t.Fatal(err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if st, err := old.Open(); err == nil {
		t.Fatalf("Open with no config holding the store = %v, want an error", st)
	}
}
