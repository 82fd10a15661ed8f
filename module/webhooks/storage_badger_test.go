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

func provisioned(t *testing.T, dir string) (*BadgerStorage, error) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	s := &BadgerStorage{Dir: dir}
	return s, s.Provision(ctx)
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
	old, err := provisioned(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	// The same directory, spelled differently, is the same database.
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, filepath.Join(dir, ".", "sub", ".."))
	if err != nil {
		t.Fatal(err)
	}
	next, err := provisioned(t, rel)
	if err != nil {
		t.Fatalf("second config could not open the same directory: %v", err)
	}
	if old.Store() != next.Store() {
		t.Fatal("two configs opened two databases on one directory")
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := reserve(next.Store(), "k"); err != nil {
		t.Fatalf("store closed under the running config: %v", err)
	}
	db := next.Store()
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := reserve(db, "k2"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("store still open after the last config let go: %v", err)
	}
	if refs, ok := badgers.References(mustAbs(t, dir)); ok {
		t.Fatalf("pool still holds %d references", refs)
	}
}

// A config that fails to provision must not release the running config's
// database, and cleaning it up must be harmless.
func TestFailedProvisionReleasesNothing(t *testing.T) {
	running, err := provisioned(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer running.Cleanup()
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	failed, err := provisioned(t, notADir)
	if err == nil {
		t.Fatal("opened a store in a regular file")
	}
	if err := failed.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := badgers.References(mustAbs(t, notADir)); ok {
		t.Fatal("failed open left a pool entry")
	}
	if err := reserve(running.Store(), "k"); err != nil {
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
