package webhooks

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	hgmetrics "github.com/hookguard/hookguard/module/metrics"
	"github.com/hookguard/hookguard/module/store"
)

func init() {
	caddy.RegisterModule(BadgerStorage{})
}

// badgers holds one open Badger per absolute directory for the whole
// process. Badger's directory lock forbids a second open, even from the
// same process, so a config reload must reuse the running config's handle.
var badgers = caddy.NewUsagePool()

// BadgerStorage is the embedded Badger store, the default backend: no
// setup, one directory on disk (see store.Badger for what each write
// survives).
//
// The database is opened when the app starts (or on first use), not when
// the config is provisioned, so `caddy validate` works next to a running
// Caddy that holds the directory's lock.
type BadgerStorage struct {
	// Dir is the database directory. Default: Caddy's data directory +
	// `/webhooks` (for example `~/.local/share/caddy/webhooks`).
	Dir string `json:"dir,omitempty"`

	path string       // absolute key into badgers
	open *pooledStore // set by Provision
}

// CaddyModule returns the Caddy module information.
func (BadgerStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhooks.storage.badger",
		New: func() caddy.Module { return new(BadgerStorage) },
	}
}

// Provision resolves the directory.
func (b *BadgerStorage) Provision(ctx caddy.Context) error {
	dir := b.Dir
	if dir == "" {
		dir = filepath.Join(caddy.AppDataDir(), "webhooks")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolving badger directory %q: %w", dir, err)
	}
	logger := ctx.Logger()
	b.path = abs
	b.open = &pooledStore{pool: badgers, key: abs, name: "at " + abs, open: func() (store.Store, error) {
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, fmt.Errorf("opening badger store at %s: %w", abs, err)
		}
		db, err := store.OpenBadger(abs, store.BadgerOptions{Logger: logger, CommitFailed: func(error) {
			hgmetrics.VerifyStoreErrors.WithLabelValues("commit").Inc()
		}})
		if err != nil {
			return nil, fmt.Errorf("opening badger store at %s: %w", abs, err)
		}
		logger.Info("opened webhook store", zap.String("dir", abs))
		// No other process can write the locked directory, and every
		// config of this one shares this handle, so the cache is exact.
		return newEndpointCache(db), nil
	}}
	return nil
}

// Open returns the open database, opening it or taking another reference
// to the one this process already has open.
func (b *BadgerStorage) Open() (store.Store, error) {
	return b.open.get()
}

// Cleanup releases this config's reference, if it took one; the database
// closes when the last config that uses it is unloaded.
func (b *BadgerStorage) Cleanup() error {
	if b.open == nil {
		return nil
	}
	return b.open.release()
}

// Interface guards
var (
	_ caddy.Provisioner  = (*BadgerStorage)(nil)
	_ caddy.CleanerUpper = (*BadgerStorage)(nil)
	_ Storage            = (*BadgerStorage)(nil)
)
