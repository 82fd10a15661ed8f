// Package webhooks is the `webhooks` Caddy app. It owns Hookguard's store
// for the whole process, so every handler of a config shares one open
// database, and a config reload keeps it open.
package webhooks

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/hookguard/hookguard/module/store"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `webhooks` app. It opens the store that inbound dedupe (and,
// later, the outbound queue and event log) live in. Handlers reach the
// store through the app, so a site that uses `webhook_verify` without the
// global `webhooks` option still works: Caddy instantiates the app with its
// defaults.
type App struct {
	// StorageRaw is the storage backend. Default: `badger` in Caddy's data
	// directory + `/webhooks`.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=webhooks.storage inline_key=module"`

	storage Storage
}

// Storage is implemented by the modules in the `webhooks.storage`
// namespace. Store is valid between Provision and Cleanup.
type Storage interface {
	Store() store.Store
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhooks",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision opens the store.
func (a *App) Provision(ctx caddy.Context) error {
	if a.StorageRaw == nil {
		a.StorageRaw = caddyconfig.JSON(map[string]string{"module": "badger"}, nil)
	}
	mod, err := ctx.LoadModule(a, "StorageRaw")
	if err != nil {
		return fmt.Errorf("opening webhook store: %w", err)
	}
	a.storage = mod.(Storage)
	return nil
}

// Start implements caddy.App.
func (a *App) Start() error { return nil }

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Store returns the app's open store.
func (a *App) Store() store.Store { return a.storage.Store() }

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
)
