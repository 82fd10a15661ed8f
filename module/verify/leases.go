package verify

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hookguard/hookguard/module/store"
)

// leases renews the leases of a handler's claims while their deliveries
// are under way, so that a slow upstream never lets a duplicate through.
// One goroutine serves all of them, and runs only while some are held: a
// request pays for a map insert and delete, not for a timer of its own,
// and most are answered long before their first renewal.
//
// A claim is renewed once a third of the lease has passed since it was
// taken or last renewed, checked every sixth of the lease, so its lease
// never has less than half of it left.
type leases struct {
	lease time.Duration
	// failed reports a failed renewal of a claim still held.
	failed func(error)

	mu      sync.Mutex
	held    map[*heldClaim]struct{}
	running bool
}

// heldClaim is one claim being renewed; renewed is guarded by leases.mu.
type heldClaim struct {
	st         store.Dedupe
	key, token string
	renewed    time.Time
}

func newLeases(lease time.Duration, failed func(error)) *leases {
	return &leases{lease: lease, failed: failed, held: map[*heldClaim]struct{}{}}
}

// hold renews key's lease, taken at now, until drop is called with the
// result. A renewal already under way when drop is called can still
// complete; a store refuses it once the claim is settled.
func (l *leases) hold(st store.Dedupe, key, token string, now time.Time) *heldClaim {
	c := &heldClaim{st: st, key: key, token: token, renewed: now}
	l.mu.Lock()
	l.held[c] = struct{}{}
	if !l.running {
		l.running = true
		go l.run()
	}
	l.mu.Unlock()
	return c
}

// drop stops renewing c.
func (l *leases) drop(c *heldClaim) {
	l.mu.Lock()
	delete(l.held, c)
	l.mu.Unlock()
}

// run renews due claims until none is held.
func (l *leases) run() {
	tick := time.NewTicker(l.lease / 6)
	defer tick.Stop()
	var due []*heldClaim
	for range tick.C {
		now := time.Now()
		l.mu.Lock()
		if len(l.held) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		due = due[:0]
		for c := range l.held {
			if now.Sub(c.renewed) >= l.lease/3 {
				due = append(due, c)
			}
		}
		l.mu.Unlock()
		for _, c := range due {
			l.renew(c, now)
		}
		clear(due)
	}
}

// renew extends c's lease from now.
func (l *leases) renew(c *heldClaim, now time.Time) {
	err := c.st.Extend(context.Background(), c.key, c.token, l.lease)
	l.mu.Lock()
	_, still := l.held[c]
	switch {
	case err == nil:
		c.renewed = now
	case still && errors.Is(err, store.ErrNotOwner):
		// The claim is lost: renewing it again cannot help.
		delete(l.held, c)
	}
	l.mu.Unlock()
	if err != nil && still {
		l.failed(err)
	}
}
