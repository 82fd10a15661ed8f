// Package webhooks is the `webhooks` Caddy app. It owns Hookguard's store
// for the whole process, so every handler of a config shares one open
// database, and a config reload keeps it open.
package webhooks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"go.uber.org/zap"

	"github.com/hookguard/hookguard/module/delivery"
	"github.com/hookguard/hookguard/module/store"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `webhooks` app. It owns the store that inbound dedupe, the
// outbound queue, the event log and the endpoints live in, and runs the
// outbound delivery workers. Handlers reach the store through the app, so
// a site that uses `webhook_verify` without the global `webhooks` option
// still works: Caddy instantiates the app with its defaults.
type App struct {
	// StorageRaw is the storage backend: `badger` or `redis`. Default:
	// `badger` in Caddy's data directory + `/webhooks`.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=webhooks.storage inline_key=module"`

	// Dispatch configures outbound delivery. Default: the defaults of each
	// of its settings.
	Dispatch *Dispatch `json:"dispatch,omitempty"`

	// Endpoints are static outbound endpoints. Endpoints created through
	// the admin API are kept in the store.
	Endpoints []StaticEndpoint `json:"endpoints,omitempty"`

	storage  Storage
	logger   *zap.Logger
	dispatch *dispatchRuntime
	// dispatching is set when the config uses outbound delivery: static
	// endpoints, a webhook_dispatch handler, or the admin API.
	dispatching bool
}

// Storage is implemented by the modules in the `webhooks.storage`
// namespace. Open returns the open store, opening it on the first call;
// the module's Cleanup releases it.
type Storage interface {
	Open() (store.Store, error)
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhooks",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision loads the storage module and sets up the dispatcher. The
// store itself opens in Start, so that `caddy validate` never takes the
// database's lock.
func (a *App) Provision(ctx caddy.Context) error {
	if a.StorageRaw == nil {
		a.StorageRaw = caddyconfig.JSON(map[string]string{"module": "badger"}, nil)
	}
	mod, err := ctx.LoadModule(a, "StorageRaw")
	if err != nil {
		return fmt.Errorf("loading webhook storage: %w", err)
	}
	a.storage = mod.(Storage)
	a.logger = ctx.Logger()

	if a.Dispatch == nil {
		a.Dispatch = new(Dispatch)
	}
	policy, schedule, err := a.Dispatch.provision()
	if err != nil {
		return fmt.Errorf("dispatch: %w", err)
	}
	for i := range a.Endpoints {
		if err := a.Endpoints[i].provision(policy); err != nil {
			return err
		}
	}
	a.dispatching = len(a.Endpoints) > 0
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	lease, err := a.deliveryLease()
	if err != nil {
		return err
	}
	a.dispatch = &dispatchRuntime{
		dispatcher: &delivery.Dispatcher{
			Client:       policy.Client(time.Duration(a.Dispatch.Timeout)),
			Schedule:     schedule,
			Lease:        lease,
			DisableAfter: time.Duration(a.Dispatch.DisableAfter),
			UserAgent:    userAgent(),
			Logger:       a.logger,
			Observe:      observeAttempt,
			Settled:      observeSettled,
		},
		policy:    policy,
		retention: time.Duration(a.Dispatch.Retention),
		workers:   a.Dispatch.Workers,
		wake:      make(chan struct{}, 1),
		ready:     make(chan struct{}),
	}
	return nil
}

// deliveryLease is how long a worker holds a delivery: the storage's
// lease if it has one (Redis: a replica's deliveries wait that long before
// another takes them over), else the attempt timeout plus a margin.
func (a *App) deliveryLease() (time.Duration, error) {
	timeout := time.Duration(a.Dispatch.Timeout)
	l, ok := a.storage.(interface{ DeliveryLease() time.Duration })
	if !ok {
		return timeout + leaseMargin, nil
	}
	if lease := l.DeliveryLease(); lease > timeout {
		return lease, nil
	}
	return 0, fmt.Errorf("storage lease %v must be longer than the dispatch timeout %v", l.DeliveryLease(), timeout)
}

// Start opens the store, so that a directory in use is a start-up error,
// and starts the delivery workers if the config delivers anything.
func (a *App) Start() error {
	st, err := a.storage.Open()
	if err != nil {
		return fmt.Errorf("opening webhook store: %w", err)
	}
	if !a.dispatching {
		return nil
	}
	a.dispatch.dispatcher.Store = st
	if err := a.startDispatch(); err != nil {
		return err
	}
	runningApp.Store(a)
	return nil
}

// Stop stops the delivery workers. A delivery cut short is attempted again
// by the next config's workers once its lease lapses.
func (a *App) Stop() error {
	runningApp.CompareAndSwap(a, nil)
	a.stopDispatch()
	return nil
}

// Store returns the app's store, opening it if the app has not started
// yet; nil if it cannot be opened (Start reports why).
func (a *App) Store() store.Store {
	st, err := a.storage.Open()
	if err != nil {
		return nil
	}
	return st
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
)
