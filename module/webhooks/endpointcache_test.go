package webhooks

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/hookguard/hookguard/module/store"
)

// countingStore counts the endpoint listings that reach the store, and
// runs during, if set, inside each one.
type countingStore struct {
	store.Store
	lists  atomic.Int64
	during func()
}

func (c *countingStore) ListEndpoints(ctx context.Context) ([]store.Endpoint, error) {
	c.lists.Add(1)
	eps, err := c.Store.ListEndpoints(ctx)
	if c.during != nil {
		c.during()
	}
	return eps, err
}

func TestEndpointCache(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	counting := &countingStore{Store: st}
	c := newEndpointCache(counting)
	ep := store.Endpoint{ID: "we_a", Name: "a", URL: "https://a.example", Status: store.EndpointActive,
		EventTypes: []string{"t"}, Secrets: []store.EndpointSecret{{Value: "s1"}}, Headers: map[string]string{"k": "v"}}
	if err := c.PutEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}

	// One read of the store serves every later call.
	for range 3 {
		got, err := c.GetEndpoint(ctx, "we_a")
		if err != nil || got.Name != "a" {
			t.Fatalf("GetEndpoint = %+v, %v", got, err)
		}
		if eps, err := c.ListEndpoints(ctx); err != nil || len(eps) != 1 {
			t.Fatalf("ListEndpoints = %+v, %v", eps, err)
		}
	}
	if n := counting.lists.Load(); n != 1 {
		t.Fatalf("%d reads of the store, want 1", n)
	}
	if _, err := c.GetEndpoint(ctx, "we_b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEndpoint(unknown) = %v, want ErrNotFound", err)
	}

	// What a caller gets is its own.
	got, _ := c.GetEndpoint(ctx, "we_a")
	got.EventTypes[0], got.Secrets[0].Value, got.Headers["k"] = "x", "x", "x"
	if again, _ := c.GetEndpoint(ctx, "we_a"); again.EventTypes[0] != "t" || again.Secrets[0].Value != "s1" || again.Headers["k"] != "v" {
		t.Fatalf("a caller's change reached the cache: %+v", again)
	}

	// A write through the cache is seen at once.
	if _, err := c.UpdateEndpoint(ctx, "we_a", func(e *store.Endpoint) error {
		e.Status = store.EndpointDisabled
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetEndpoint(ctx, "we_a"); got.Status != store.EndpointDisabled {
		t.Fatalf("after UpdateEndpoint, status %q", got.Status)
	}

	// A listing read while a write lands is not kept: the next call reads
	// the store again and sees the write.
	ep.Name = "renamed"
	counting.during = func() {
		counting.during = nil
		if err := c.PutEndpoint(ctx, ep); err != nil {
			t.Error(err)
		}
	}
	c.forget()
	if _, err := c.ListEndpoints(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetEndpoint(ctx, "we_a"); got.Name != "renamed" {
		t.Fatalf("a listing read before a write was kept: name %q", got.Name)
	}
}
