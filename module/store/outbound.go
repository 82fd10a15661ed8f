package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrNotFound is returned for an unknown endpoint, event or delivery ID.
var ErrNotFound = errors.New("store: not found")

// Endpoint statuses.
const (
	EndpointActive   = "active"
	EndpointDisabled = "disabled"
	EndpointDeleted  = "deleted"
)

// Delivery statuses.
const (
	DeliveryPending    = "pending"
	DeliveryDelivering = "delivering"
	DeliverySucceeded  = "succeeded"
	DeliveryFailed     = "failed"
	DeliverySkipped    = "skipped"
)

// Endpoint is a subscriber of outbound events.
type Endpoint struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
	// EventTypes the endpoint receives; empty means every type.
	EventTypes []string `json:"event_types,omitempty"`
	// Scheme is the signing scheme's name, such as "standard".
	Scheme string `json:"scheme"`
	// Secrets sign deliveries, newest first. A secret past its ExpiresAt
	// (the end of a rotation's overlap) no longer signs.
	Secrets []EndpointSecret  `json:"secrets"`
	Headers map[string]string `json:"headers,omitempty"`
	// Status is EndpointActive, EndpointDisabled or EndpointDeleted.
	Status         string `json:"status"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	// EnabledAt is when a disabled endpoint was last enabled again.
	// Deliveries created before it waited through the disable: they are
	// skipped, never replayed.
	EnabledAt time.Time `json:"enabled_at,omitzero"`
	// Static is true for an endpoint declared in the Caddyfile.
	Static    bool      `json:"static,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Health    Health    `json:"health"`
}

// EndpointSecret is one signing secret of an endpoint.
type EndpointSecret struct {
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Health is what the last attempts to an endpoint said.
type Health struct {
	LastAttemptAt       time.Time `json:"last_attempt_at,omitzero"`
	LastStatus          string    `json:"last_status,omitempty"`
	LastResponseStatus  int       `json:"last_response_status,omitempty"`
	LastError           string    `json:"last_error,omitempty"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	// FailingSince is when the current run of failures began.
	FailingSince time.Time `json:"failing_since,omitzero"`
}

// Event is an accepted outbound event.
type Event struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Created time.Time       `json:"created"`
	Data    json.RawMessage `json:"data"`
	Subject json.RawMessage `json:"subject,omitempty"`
	// IdempotencyKey is the intake's Idempotency-Key header, if any.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Delivery is one event's journey to one endpoint.
type Delivery struct {
	ID         string `json:"id"`
	EventID    string `json:"event_id"`
	EndpointID string `json:"endpoint_id"`
	// Status is one of the Delivery* statuses.
	Status        string    `json:"status"`
	Attempts      []Attempt `json:"attempts,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// LeaseToken and LeaseUntil are set while a worker holds the delivery.
	LeaseToken string    `json:"lease_token,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// RetriedAt is when an operator last asked for the delivery to be
	// attempted again (the admin API's retry).
	RetriedAt time.Time `json:"retried_at,omitzero"`
}

// Attempt is one HTTP attempt of a delivery.
type Attempt struct {
	At             time.Time     `json:"at"`
	Duration       time.Duration `json:"duration"`
	ResponseStatus int           `json:"response_status,omitempty"`
	// ResponseBody holds at most the first 4000 characters.
	ResponseBody string `json:"response_body,omitempty"`
	Error        string `json:"error,omitempty"`
}

// EventFilter selects events to list, newest first.
type EventFilter struct {
	EndpointID string // events with a delivery to this endpoint
	Type       string
	Status     string // events with a delivery in this status
	// Limit is 1 to 200; zero means 50.
	Limit int
	// After is a cursor: list events older than the event with this ID.
	After string
}

// Outbound is the durable side of outbound delivery: endpoints, the event
// log, and the queue of deliveries. Every write survives a crash of the
// process once it returns. Against power loss, endpoints and CreateEvent
// are synced before they return; a backend may sync ClaimDue and
// UpdateDelivery later, since losing them only causes a redelivery.
//
// Events and their deliveries are kept for the retention given to
// CreateEvent, measured by the backend's clock: from then on they are not
// found, not listed, not claimed and not counted, even while the backend
// still holds them for garbage collection. Endpoints are kept until
// replaced. IDs are made by the caller and must not be empty or contain
// '/'; event IDs must sort by creation time (ListEvents relies on it).
//
// The queue holds every pending delivery at its NextAttemptAt and every
// delivering one at its LeaseUntil; a succeeded, failed or skipped delivery
// is never claimed. So a pending delivery must have a NextAttemptAt and a
// delivering one a LeaseUntil, or CreateEvent and UpdateDelivery refuse it
// with an argument error.
type Outbound interface {
	// PutEndpoint creates or replaces an endpoint.
	PutEndpoint(ctx context.Context, e Endpoint) error
	// UpdateEndpoint applies fn to the stored endpoint and stores the
	// result atomically (concurrent updates, such as two workers recording
	// health, must not lose each other's changes). An error from fn stores
	// nothing and is returned. ErrNotFound for an unknown ID. fn may run
	// more than once (again on a fresh copy after a write conflict), so it
	// must do nothing but change e; it must not change e.ID.
	UpdateEndpoint(ctx context.Context, id string, fn func(e *Endpoint) error) (Endpoint, error)
	// GetEndpoint returns ErrNotFound for an unknown ID.
	GetEndpoint(ctx context.Context, id string) (Endpoint, error)
	// ListEndpoints returns every endpoint, deleted ones included, by ID.
	ListEndpoints(ctx context.Context) ([]Endpoint, error)

	// CreateEvent stores ev and its deliveries in one synced write, kept
	// for retention. If ev.IdempotencyKey is set and an event with that
	// key is still kept, it stores nothing and returns that event and its
	// deliveries (as GetEvent does) with created false; of concurrent calls
	// with one key, exactly one creates. Every delivery's EventID must be
	// ev.ID, and its ID new; ds may be empty.
	CreateEvent(ctx context.Context, ev Event, ds []Delivery, retention time.Duration) (Event, []Delivery, bool, error)
	// GetEvent returns an event and its deliveries in ID order, or
	// ErrNotFound.
	GetEvent(ctx context.Context, id string) (Event, []Delivery, error)
	// GetEventOnly is GetEvent without the deliveries, which spares
	// reading them: what a worker needs for each attempt.
	GetEventOnly(ctx context.Context, id string) (Event, error)
	// ListEvents returns events newest first. When both f.EndpointID and
	// f.Status are set, one delivery must match both. A backend may bound
	// how many events one call examines (Badger: ListScanLimit), returning
	// fewer than f.Limit matches when a filter is rare in a long log.
	ListEvents(ctx context.Context, f EventFilter) ([]Event, error)

	// GetDelivery returns ErrNotFound for an unknown ID.
	GetDelivery(ctx context.Context, id string) (Delivery, error)
	// ClaimDue leases up to limit deliveries that are due at now: pending
	// with NextAttemptAt not after now, or delivering with a lapsed lease
	// (their worker died), earliest due first. They become delivering,
	// held by token until now+lease, with UpdatedAt now. No delivery is
	// ever held by two tokens at once.
	ClaimDue(ctx context.Context, now time.Time, limit int, token string, lease time.Duration) ([]Delivery, error)
	// UpdateDelivery stores d. With a token, the stored delivery must be
	// held by that token under a live lease, or it returns ErrNotOwner;
	// an empty token (an operator's retry) requires that it is not held,
	// whatever its status. A lease is live while the delivery is
	// delivering and the backend's clock is before its LeaseUntil. d is
	// stored as given (the caller sets or clears LeaseToken, LeaseUntil
	// and UpdatedAt), but must keep its EventID and EndpointID. ErrNotFound
	// for an unknown ID.
	UpdateDelivery(ctx context.Context, d Delivery, token string) error
	// QueueDepth counts pending deliveries due at now and scheduled later.
	QueueDepth(ctx context.Context, now time.Time) (due, scheduled int, err error)
}
