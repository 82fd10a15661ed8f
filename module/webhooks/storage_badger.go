package webhooks

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

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
// setup, one directory on disk. Writes are fsync'd before they return.
type BadgerStorage struct {
	// Dir is the database directory. Default: Caddy's data directory +
	// `/webhooks` (for example `~/.local/share/caddy/webhooks`).
	Dir string `json:"dir,omitempty"`

	path string // absolute key into badgers, set only once acquired
	db   *store.Badger
}

// CaddyModule returns the Caddy module information.
func (BadgerStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhooks.storage.badger",
		New: func() caddy.Module { return new(BadgerStorage) },
	}
}

// Provision opens the database, or takes another reference to the one
// this process already has open.
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
	val, loaded, err := badgers.LoadOrNew(abs, func() (caddy.Destructor, error) {
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, err
		}
		db, err := store.OpenBadger(abs, store.BadgerOptions{Logger: logger})
		if err != nil {
			return nil, err
		}
		logger.Info("opened webhook store", zap.String("dir", abs))
		return badgerHandle{db}, nil
	})
	if err != nil {
		if loaded {
			// LoadOrNew counted a reference to an entry whose
			// constructor failed in another goroutine; give it back.
			_, _ = badgers.Delete(abs)
		}
		return fmt.Errorf("opening badger store at %s: %w", abs, err)
	}
	b.path = abs
	b.db = val.(badgerHandle).Badger
	return nil
}

// Cleanup releases this config's reference; the database closes when the
// last config that uses it is unloaded.
func (b *BadgerStorage) Cleanup() error {
	if b.path == "" {
		return nil
	}
	_, err := badgers.Delete(b.path)
	b.path, b.db = "", nil
	return err
}

// Store returns the open store.
func (b *BadgerStorage) Store() store.Store { return b.db }

// badgerHandle lets the pool close the database when its last reference
// goes.
type badgerHandle struct{ *store.Badger }

// Destruct implements caddy.Destructor.
func (h badgerHandle) Destruct() error { return h.Close() }

// Interface guards
var (
	_ caddy.Provisioner  = (*BadgerStorage)(nil)
	_ caddy.CleanerUpper = (*BadgerStorage)(nil)
	_ Storage            = (*BadgerStorage)(nil)
)
