package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/hookguard/hookguard/module/delivery"
	"github.com/hookguard/hookguard/module/store"
)

// Dispatch configures outbound delivery.
type Dispatch struct {
	// Workers is how many deliveries are attempted at once. Default: 32.
	Workers int `json:"workers,omitempty"`
	// Attempts is how many times a delivery is tried, the first try
	// included. Default: 5.
	Attempts int `json:"attempts,omitempty"`
	// Backoff are the waits between attempts; the last repeats, and each
	// is jittered by ±10%. Default: 1m 5m 30m 2h.
	Backoff []caddy.Duration `json:"backoff,omitempty"`
	// Timeout bounds one attempt. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Retention is how long the event log keeps an event. Default: 30d.
	Retention caddy.Duration `json:"retention,omitempty"`
	// DisableAfter disables an endpoint that has failed for this long
	// without a success. Default: 5d.
	DisableAfter caddy.Duration `json:"disable_after,omitempty"`
	// RotationOverlap is how long a rotated-out secret keeps signing.
	// Default: 24h.
	RotationOverlap caddy.Duration `json:"rotation_overlap,omitempty"`
	// AllowNetworks lifts the SSRF guard for these CIDRs (private targets).
	// Metadata and link-local addresses stay blocked.
	AllowNetworks []string `json:"allow_networks,omitempty"`
	// AllowHTTP permits plain http:// endpoint URLs.
	AllowHTTP bool `json:"allow_http,omitempty"`
}

// StaticEndpoint is an endpoint declared in the config. Its ID is derived
// from its name, so replicas and restarts agree on it.
type StaticEndpoint struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Events are the event types it receives; empty means all.
	Events []string `json:"events,omitempty"`
	// Secret signs its deliveries. It may be a placeholder resolved once
	// at load, such as `{env.ORDERS_SECRET}` or
	// `{file./run/secrets/orders}`, which keeps the value out of the JSON
	// config. Default: a whsec_ secret generated once and kept in the store.
	Secret string `json:"secret,omitempty"`
	// Scheme is the signing scheme. Default: standard.
	Scheme   string            `json:"scheme,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Disabled bool              `json:"disabled,omitempty"`

	secret string // Secret, its placeholders resolved
}

// Defaults of the dispatch settings.
const (
	defaultWorkers         = 32
	defaultTimeout         = 10 * time.Second
	defaultRetention       = 30 * 24 * time.Hour
	defaultDisableAfter    = 5 * 24 * time.Hour
	defaultRotationOverlap = 24 * time.Hour
	pollInterval           = time.Second
)

// dispatchRuntime is the running side of the dispatcher.
type dispatchRuntime struct {
	dispatcher *delivery.Dispatcher
	policy     delivery.Policy
	retention  time.Duration
	workers    int
	wake       chan struct{}
	// ready is closed once the static endpoints are in the store: Caddy
	// may start serving intakes before this app has started.
	ready  chan struct{}
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// provision sets defaults and checks the settings.
func (d *Dispatch) provision() (delivery.Policy, delivery.Schedule, error) {
	if d.Workers == 0 {
		d.Workers = defaultWorkers
	}
	if d.Timeout == 0 {
		d.Timeout = caddy.Duration(defaultTimeout)
	}
	if d.Retention == 0 {
		d.Retention = caddy.Duration(defaultRetention)
	}
	if d.DisableAfter == 0 {
		d.DisableAfter = caddy.Duration(defaultDisableAfter)
	}
	if d.RotationOverlap == 0 {
		d.RotationOverlap = caddy.Duration(defaultRotationOverlap)
	}
	schedule := delivery.DefaultSchedule()
	if d.Attempts != 0 {
		schedule.Attempts = d.Attempts
	}
	if len(d.Backoff) > 0 {
		schedule.Backoff = nil
		for _, b := range d.Backoff {
			schedule.Backoff = append(schedule.Backoff, time.Duration(b))
		}
	}
	if err := schedule.Validate(); err != nil {
		return delivery.Policy{}, schedule, err
	}
	if d.Workers < 1 {
		return delivery.Policy{}, schedule, fmt.Errorf("workers must be at least 1")
	}
	policy := delivery.Policy{AllowHTTP: d.AllowHTTP}
	for _, cidr := range d.AllowNetworks {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return policy, schedule, fmt.Errorf("allow_networks: %w", err)
		}
		policy.AllowNetworks = append(policy.AllowNetworks, p.Masked())
	}
	return policy, schedule, nil
}

// startDispatch syncs the static endpoints into the store and starts the
// workers.
func (a *App) startDispatch() error {
	rt := a.dispatch
	ctx, cancel := context.WithCancel(context.Background())
	rt.cancel = cancel
	err := a.syncStaticEndpoints(ctx)
	close(rt.ready)
	if err != nil {
		cancel()
		return fmt.Errorf("storing static endpoints: %w", err)
	}
	rt.done.Add(1)
	go func() {
		defer rt.done.Done()
		rt.dispatcher.Run(ctx, rt.workers, rt.wake, pollInterval)
	}()
	rt.done.Add(1)
	go func() {
		defer rt.done.Done()
		a.watchGauges(ctx)
	}()
	return nil
}

// wakeWorkers tells the dispatcher that work is due.
func (a *App) wakeWorkers() {
	select {
	case a.dispatch.wake <- struct{}{}:
	default:
	}
}

// stopDispatch stops the workers and waits for their attempts to end.
func (a *App) stopDispatch() {
	if a.dispatch == nil || a.dispatch.cancel == nil {
		return
	}
	a.dispatch.cancel()
	a.dispatch.done.Wait()
}

// configDisabled is the disabled reason of an endpoint the config disables.
const configDisabled = "disabled in the config"

// healStaticEndpoints writes the config's endpoints again if any is
// missing from eps, the store's endpoints: a store that lost its data (a
// Redis restarted without persistence) gets them back without a reload.
func (a *App) healStaticEndpoints(ctx context.Context, eps []store.Endpoint) {
	have := make(map[string]bool, len(eps))
	for _, ep := range eps {
		have[ep.ID] = true
	}
	for _, se := range a.Endpoints {
		if !have[delivery.StaticEndpointID(se.Name)] {
			err := a.syncStaticEndpoints(ctx)
			a.logger.Warn("static endpoints were missing from the webhook store; wrote them again",
				zap.String("endpoint", se.Name), zap.Error(err))
			return
		}
	}
}

// syncStaticEndpoints writes the config's endpoints to the store. What the
// config says wins; a secret generated earlier, the health, and a disable
// made by a failing endpoint or through the admin API are kept. A static
// endpoint the config no longer declares is deleted (softly: its history
// stays), so that it stops receiving events.
func (a *App) syncStaticEndpoints(ctx context.Context) error {
	st := a.Store()
	now := time.Now()
	declared := make(map[string]bool, len(a.Endpoints))
	for _, se := range a.Endpoints {
		declared[delivery.StaticEndpointID(se.Name)] = true
	}
	stored, err := st.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	for _, ep := range stored {
		if !ep.Static || declared[ep.ID] {
			continue
		}
		_, err := st.UpdateEndpoint(ctx, ep.ID, func(ep *store.Endpoint) error {
			ep.Static, ep.Status, ep.DisabledReason, ep.UpdatedAt = false, store.EndpointDeleted, "", now
			return nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		a.logger.Info("deleted a static endpoint the config no longer declares", zap.String("endpoint", ep.Name))
	}
	for _, se := range a.Endpoints {
		apply := func(ep *store.Endpoint) error {
			ep.Name, ep.URL, ep.EventTypes, ep.Scheme, ep.Headers, ep.Static = se.Name, se.URL, se.Events, se.Scheme, se.Headers, true
			if se.secret != "" && (len(ep.Secrets) == 0 || ep.Secrets[0].Value != se.secret) {
				ep.Secrets = []store.EndpointSecret{{Value: se.secret, CreatedAt: now}}
			}
			switch {
			case se.Disabled:
				ep.Status, ep.DisabledReason = store.EndpointDisabled, configDisabled
			case ep.Status == store.EndpointDeleted || ep.DisabledReason == configDisabled:
				ep.Status, ep.DisabledReason, ep.EnabledAt = store.EndpointActive, "", now
			}
			ep.UpdatedAt = now
			return nil
		}
		id := delivery.StaticEndpointID(se.Name)
		_, err := st.UpdateEndpoint(ctx, id, apply)
		if !errors.Is(err, store.ErrNotFound) {
			if err != nil {
				return err
			}
			continue
		}
		ep := store.Endpoint{ID: id, Status: store.EndpointActive, CreatedAt: now,
			Secrets: []store.EndpointSecret{{Value: delivery.NewSigningSecret(), CreatedAt: now}}}
		_ = apply(&ep)
		if err := st.PutEndpoint(ctx, ep); err != nil {
			return err
		}
	}
	return nil
}

// leaseMargin is added to the attempt timeout to make a worker's lease.
const leaseMargin = 5 * time.Second

// provision sets the endpoint's defaults, resolves its secret's
// placeholders, and checks its URL, scheme and secret.
func (se *StaticEndpoint) provision(policy delivery.Policy) error {
	if se.Scheme == "" {
		se.Scheme = "standard"
	}
	secret, err := caddy.NewReplacer().ReplaceOrErr(se.Secret, true, true)
	if err != nil {
		return fmt.Errorf("endpoint %s: secret: resolving placeholder: %w", se.Name, err)
	}
	se.secret = secret
	return checkEndpoint(se.Name, se.URL, se.Scheme, secret, policy)
}

// checkEndpoint checks an endpoint's URL against the SSRF policy, and that
// its scheme can sign with its secret.
func checkEndpoint(name, rawURL, scheme, secret string, policy delivery.Policy) error {
	if name == "" {
		return errors.New("endpoint needs a name")
	}
	if _, err := policy.CheckURL(rawURL); err != nil {
		return fmt.Errorf("endpoint %s: %w", name, err)
	}
	s, ok := delivery.SigningScheme(scheme)
	if !ok {
		return fmt.Errorf("endpoint %s: unknown signing scheme %q (want one of %s)", name, scheme, strings.Join(delivery.SigningSchemes, ", "))
	}
	if secret != "" {
		if _, err := s.ParseSecret(secret); err != nil {
			return fmt.Errorf("endpoint %s: %w", name, err)
		}
	}
	return nil
}

// userAgent names Hookguard and its version on every attempt.
func userAgent() string {
	return "Hookguard/" + version()
}
