package webhooks

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/hookguard/hookguard/module/store"
)

// endpointCache keeps a store's endpoints decoded in memory, so that an
// intake and a delivery attempt do not each read and decode them. It is
// exact only for a store that no other process writes, such as Badger's
// locked directory, and only if every writer in this process goes through
// it: it forgets what it holds after each endpoint write it passes on.
type endpointCache struct {
	store.Store

	mu sync.Mutex
	// gen counts the endpoint writes passed on: a listing read while one
	// was under way may be stale, and is not kept.
	gen uint64
	// eps is every endpoint, by ID, or nil when not yet read.
	eps map[string]store.Endpoint
	// list is eps in the store's order.
	list []store.Endpoint
}

func newEndpointCache(st store.Store) *endpointCache { return &endpointCache{Store: st} }

// ListEndpoints implements store.Outbound.
func (c *endpointCache) ListEndpoints(ctx context.Context) ([]store.Endpoint, error) {
	list, _, err := c.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]store.Endpoint, len(list))
	for i, ep := range list {
		out[i] = cloneEndpoint(ep)
	}
	return out, nil
}

// GetEndpoint implements store.Outbound.
func (c *endpointCache) GetEndpoint(ctx context.Context, id string) (store.Endpoint, error) {
	_, eps, err := c.load(ctx)
	if err != nil {
		return store.Endpoint{}, err
	}
	ep, ok := eps[id]
	if !ok {
		return store.Endpoint{}, store.ErrNotFound
	}
	return cloneEndpoint(ep), nil
}

// PutEndpoint implements store.Outbound.
func (c *endpointCache) PutEndpoint(ctx context.Context, e store.Endpoint) error {
	defer c.forget()
	return c.Store.PutEndpoint(ctx, e)
}

// UpdateEndpoint implements store.Outbound.
func (c *endpointCache) UpdateEndpoint(ctx context.Context, id string, fn func(e *store.Endpoint) error) (store.Endpoint, error) {
	defer c.forget()
	return c.Store.UpdateEndpoint(ctx, id, fn)
}

// forget drops the cached endpoints after a write.
func (c *endpointCache) forget() {
	c.mu.Lock()
	c.gen++
	c.eps, c.list = nil, nil
	c.mu.Unlock()
}

// load returns the cached endpoints, reading them first if needed. The
// caller must not modify them.
func (c *endpointCache) load(ctx context.Context) ([]store.Endpoint, map[string]store.Endpoint, error) {
	c.mu.Lock()
	list, eps, gen := c.list, c.eps, c.gen
	c.mu.Unlock()
	if eps != nil {
		return list, eps, nil
	}
	list, err := c.Store.ListEndpoints(ctx)
	if err != nil {
		return nil, nil, err
	}
	eps = make(map[string]store.Endpoint, len(list))
	for _, ep := range list {
		eps[ep.ID] = ep
	}
	c.mu.Lock()
	if c.gen == gen {
		c.list, c.eps = list, eps
	}
	c.mu.Unlock()
	return list, eps, nil
}

// cloneEndpoint copies ep's slices and map, so that a caller may change
// what it gets.
func cloneEndpoint(ep store.Endpoint) store.Endpoint {
	ep.EventTypes = slices.Clone(ep.EventTypes)
	ep.Secrets = slices.Clone(ep.Secrets)
	ep.Headers = maps.Clone(ep.Headers)
	return ep
}
