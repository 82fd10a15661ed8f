package webhooks

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

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

	path   string // absolute key into badgers
	logger *zap.Logger
	open   *openBadger // set by Provision
}

// openBadger is this config's hold on the database.
type openBadger struct {
	mu       sync.Mutex
	db       *store.Badger // set once this config holds a reference in badgers
	released bool          // Cleanup ran: this config may not open again
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
	b.path, b.logger, b.open = abs, ctx.Logger(), new(openBadger)
	return nil
}

// Open returns the open database, opening it or taking another reference
// to the one this process already has open.
func (b *BadgerStorage) Open() (store.Store, error) {
	o := b.open
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db != nil {
		return o.db, nil
	}
	if o.released {
		return nil, fmt.Errorf("webhook store at %s: config unloaded", b.path)
	}
	logger := b.logger
	val, loaded, err := badgers.LoadOrNew(b.path, func() (caddy.Destructor, error) {
		if err := os.MkdirAll(b.path, 0o700); err != nil {
			return nil, err
		}
		db, err := store.OpenBadger(b.path, store.BadgerOptions{Logger: logger})
		if err != nil {
			return nil, err
		}
		logger.Info("opened webhook store", zap.String("dir", b.path))
		return badgerHandle{db}, nil
	})
	if err != nil {
		if loaded {
			// LoadOrNew counted a reference to an entry whose
			// constructor failed in another goroutine; give it back.
			_, _ = badgers.Delete(b.path)
		}
		return nil, fmt.Errorf("opening badger store at %s: %w", b.path, err)
	}
	o.db = val.(badgerHandle).Badger
	return o.db, nil
}

// Cleanup releases this config's reference, if it took one; the database
// closes when the last config that uses it is unloaded.
func (b *BadgerStorage) Cleanup() error {
	if b.open == nil {
		return nil
	}
	o := b.open
	o.mu.Lock()
	defer o.mu.Unlock()
	o.released = true
	if o.db == nil {
		return nil
	}
	_, err := badgers.Delete(b.path)
	o.db = nil
	return err
}

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
