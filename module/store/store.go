// Package store defines Hookguard's storage interface and its embedded
// Badger implementation. It knows nothing of Caddy: the webhooks app opens
// a store once per process and hands it to the handlers.
//
// Every backend must pass the conformance suite in package storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotOwner is returned when a caller acts on a claim it no longer holds:
// the lease expired and another owner took the key, or the key was released
// or committed already. A stale finisher must never overwrite a newer owner.
var ErrNotOwner = errors.New("store: claim not held by this token")

// ErrClosed is returned by operations on a closed store.
var ErrClosed = errors.New("store: closed")

// State is the state of a dedupe claim. An absent key has no state.
type State uint8

const (
	// InFlight means one delivery holds the key under a lease and is being
	// forwarded upstream right now.
	InFlight State = 1
	// Done means a delivery of this key was forwarded and answered 2xx; its
	// response is kept so that duplicates can be answered with it.
	Done State = 2
)

func (s State) String() string {
	switch s {
	case InFlight:
		return "in_flight"
	case Done:
		return "done"
	}
	return "absent"
}

// Response is the upstream answer stored with a done claim.
type Response struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// Claim is the stored state of one dedupe key.
type Claim struct {
	State State `json:"state"`
	// Token identifies the owner of an in-flight claim.
	Token string `json:"token,omitempty"`
	// Expires is when the lease (in flight) or the record (done) lapses.
	Expires time.Time `json:"expires"`
	// Response is set when State is Done.
	Response Response `json:"response,omitzero"`
}

// Dedupe is the three-state lease behind inbound deduplication:
// absent → in_flight(token, lease) → done(response).
//
// A claim lapses at its Expires, measured by the backend's clock: from then
// on the key counts as absent, and its former holder gets ErrNotOwner even if
// nobody has claimed the key since. An empty key or token, or a lease or ttl
// that is not positive, is an argument error (not ErrNotOwner) and writes
// nothing.
type Dedupe interface {
	// Reserve atomically claims key for token under a lease, if the key is
	// absent or its claim has expired. It returns the new claim and true
	// when the caller now owns the key, or the existing claim and false.
	// A write conflict with a concurrent Reserve counts as in flight: it
	// returns (Claim{State: InFlight}, false, nil), never "new".
	Reserve(ctx context.Context, key, token string, lease time.Duration) (Claim, bool, error)
	// Extend renews the lease of an in-flight claim held by token.
	// It returns ErrNotOwner if token no longer holds the key.
	Extend(ctx context.Context, key, token string, lease time.Duration) error
	// Commit turns the in-flight claim held by token into done, keeping
	// resp for ttl. It returns ErrNotOwner if token no longer holds it.
	Commit(ctx context.Context, key, token string, resp Response, ttl time.Duration) error
	// Release deletes the in-flight claim held by token, so a retry can
	// claim the key again. It returns ErrNotOwner if token does not hold it.
	Release(ctx context.Context, key, token string) error
}

// Store is a storage backend: inbound dedupe and the outbound endpoints,
// event log and delivery queue, in one store that the app opens once.
type Store interface {
	Dedupe
	Outbound
	// Close releases the store; operations after it return ErrClosed. It is
	// idempotent.
	Close() error
}
