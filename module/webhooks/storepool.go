package webhooks

import (
	"fmt"
	"sync"

	"github.com/caddyserver/caddy/v2"

	"github.com/hookguard/hookguard/module/store"
)

// pooledStore is one config's hold on a store that the whole process
// shares through a caddy.UsagePool, so that a config reload reuses the
// running config's open store. The storage modules open it when the app
// starts (or on first use) and let go of it in Cleanup.
type pooledStore struct {
	pool *caddy.UsagePool
	key  string // the pool key; never shown, it may hold a secret
	name string // the store as errors show it
	// open makes the store when the process has none under key yet.
	open func() (store.Store, error)

	mu       sync.Mutex
	st       store.Store // set once this config holds a reference
	released bool        // Cleanup ran: this config may not open again
}

// get returns the open store, opening it or taking another reference to
// the one the process already has.
func (p *pooledStore) get() (store.Store, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st != nil {
		return p.st, nil
	}
	if p.released {
		// On a reload Caddy cleans up the old config while its server
		// still finishes the requests under way: they use the store the
		// running config holds, without a reference of their own.
		if st := p.live(); st != nil {
			return st, nil
		}
		return nil, fmt.Errorf("webhook store %s: config unloaded", p.name)
	}
	val, loaded, err := p.pool.LoadOrNew(p.key, func() (caddy.Destructor, error) {
		st, err := p.open()
		if err != nil {
			return nil, err
		}
		return storeHandle{st}, nil
	})
	if err != nil {
		if loaded {
			// LoadOrNew counted a reference to an entry whose
			// constructor failed in another goroutine; give it back.
			_, _ = p.pool.Delete(p.key)
		}
		return nil, err
	}
	p.st = val.(storeHandle).Store
	return p.st, nil
}

// live returns the store the process holds under this key, if any.
func (p *pooledStore) live() store.Store {
	var st store.Store
	p.pool.Range(func(key, val any) bool {
		if key == p.key {
			st = val.(storeHandle).Store
			return false
		}
		return true
	})
	return st
}

// release gives back this config's reference, if it took one; the store
// closes when the last config that uses it lets go.
func (p *pooledStore) release() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.released = true
	if p.st == nil {
		return nil
	}
	_, err := p.pool.Delete(p.key)
	p.st = nil
	return err
}

// storeHandle lets the pool close a store when its last reference goes.
type storeHandle struct{ store.Store }

// Destruct implements caddy.Destructor.
func (h storeHandle) Destruct() error { return h.Close() }
