package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// ListScanLimit is how many events one Badger ListEvents call examines at
// most, matching or not (logically expired ones included). A listing with
// a filter that few events match stops there and returns the matches found
// so far, possibly fewer than the limit, rather than scanning the whole log.
const ListScanLimit = 10000

const (
	// defaultListLimit is the page size when EventFilter.Limit is zero.
	defaultListLimit = 50
	// maxListLimit is the largest EventFilter.Limit.
	maxListLimit = 200
	// createAttempts bounds CreateEvent's retries after a write conflict,
	// such as another CreateEvent with the same idempotency key winning: the
	// retry then finds the winner's event.
	createAttempts = 10
	// updateAttempts bounds the retries of UpdateEndpoint, UpdateDelivery
	// and ClaimDue after a write conflict. Each attempt reads afresh.
	updateAttempts = 10
	// maxStaleDrops bounds how many stale queue entries (those of logically
	// expired or unreadable deliveries) one ClaimDue removes.
	maxStaleDrops = 1000
)

// PutEndpoint implements Outbound. Endpoints have no TTL.
func (b *Badger) PutEndpoint(ctx context.Context, e Endpoint) error {
	if err := checkRecordID("endpoint", e.ID); err != nil {
		return err
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding endpoint %s: %w", e.ID, err)
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	mu := b.endpointLock(e.ID)
	mu.Lock()
	defer mu.Unlock()
	// A blind write reads nothing, so it cannot conflict.
	if err := b.db.Update(func(txn *badger.Txn) error {
		return txn.Set(endpointKey(e.ID), v)
	}); err != nil {
		return fmt.Errorf("storing endpoint %s: %w", e.ID, err)
	}
	if err := <-b.durable.queue(struct{}{}); err != nil {
		return fmt.Errorf("syncing endpoint %s: %w", e.ID, err)
	}
	return nil
}

// UpdateEndpoint implements Outbound. Updates of one endpoint are
// serialized within the process, so fn normally runs once; it runs again
// on a fresh copy only after a write conflict, at most updateAttempts times.
func (b *Badger) UpdateEndpoint(ctx context.Context, id string, fn func(e *Endpoint) error) (Endpoint, error) {
	if err := checkRecordID("endpoint", id); err != nil {
		return Endpoint{}, err
	}
	if err := b.acquire(ctx); err != nil {
		return Endpoint{}, err
	}
	defer b.mu.RUnlock()
	mu := b.endpointLock(id)
	mu.Lock()
	defer mu.Unlock()
	k := endpointKey(id)
	for range updateAttempts {
		if err := ctx.Err(); err != nil {
			return Endpoint{}, err
		}
		var e Endpoint
		var fnErr error
		err := b.db.Update(func(txn *badger.Txn) error {
			v, _, found, err := getValue(txn, k)
			if err != nil {
				return err
			}
			if !found {
				return ErrNotFound
			}
			e = Endpoint{}
			if err := decodeJSON(v, &e); err != nil {
				return err
			}
			if fnErr = fn(&e); fnErr != nil {
				return fnErr
			}
			if e.ID != id {
				return fmt.Errorf("store: UpdateEndpoint may not change the ID %s to %q", id, e.ID)
			}
			v, err = json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encoding endpoint %s: %w", id, err)
			}
			b.hook("update_endpoint")
			return txn.Set(k, v)
		})
		switch {
		case fnErr != nil:
			return Endpoint{}, fnErr
		case err == nil:
			if err := <-b.durable.queue(struct{}{}); err != nil {
				return Endpoint{}, fmt.Errorf("syncing endpoint %s: %w", id, err)
			}
			return e, nil
		case errors.Is(err, ErrNotFound):
			return Endpoint{}, err
		case !errors.Is(err, badger.ErrConflict):
			return Endpoint{}, fmt.Errorf("updating endpoint %s: %w", id, err)
		}
	}
	return Endpoint{}, fmt.Errorf("updating endpoint %s: %w (%d attempts)", id, badger.ErrConflict, updateAttempts)
}

// GetEndpoint implements Outbound.
func (b *Badger) GetEndpoint(ctx context.Context, id string) (Endpoint, error) {
	if err := b.acquire(ctx); err != nil {
		return Endpoint{}, err
	}
	defer b.mu.RUnlock()
	var e Endpoint
	err := b.db.View(func(txn *badger.Txn) error {
		v, _, found, err := getValue(txn, endpointKey(id))
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		return decodeJSON(v, &e)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Endpoint{}, fmt.Errorf("reading endpoint %s: %w", id, err)
	}
	return e, err
}

// ListEndpoints implements Outbound.
func (b *Badger) ListEndpoints(ctx context.Context) ([]Endpoint, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	var out []Endpoint
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(endpointPrefix), PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var e Endpoint
			err := it.Item().Value(func(v []byte) error { return decodeJSON(v, &e) })
			if err != nil {
				return fmt.Errorf("%s: %w", it.Item().Key(), err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing endpoints: %w", err)
	}
	return out, nil
}

// CreateEvent implements Outbound. Every delivery must belong to ev (its
// EventID is ev.ID) and have a distinct ID; ev's ID must be new. The event,
// its deliveries, their index and queue entries, and the idempotency key
// are written in one transaction, synced before it returns; its logical
// expiry is the store clock's now plus retention.
func (b *Badger) CreateEvent(ctx context.Context, ev Event, ds []Delivery, retention time.Duration) (Event, []Delivery, bool, error) {
	if err := checkEventArgs(ev, ds, retention); err != nil {
		return Event{}, nil, false, err
	}
	if err := b.acquire(ctx); err != nil {
		return Event{}, nil, false, err
	}
	defer b.mu.RUnlock()
	for range createAttempts {
		if err := ctx.Err(); err != nil {
			return Event{}, nil, false, err
		}
		got, gotDs, created, err := b.createEvent(ev, ds, retention)
		if errors.Is(err, badger.ErrConflict) {
			continue
		}
		if err != nil {
			return Event{}, nil, false, fmt.Errorf("creating event %s: %w", ev.ID, err)
		}
		if err := <-b.durable.queue(struct{}{}); err != nil {
			return Event{}, nil, false, fmt.Errorf("syncing event %s: %w", ev.ID, err)
		}
		return got, gotDs, created, nil
	}
	return Event{}, nil, false, fmt.Errorf("creating event %s: %w (%d attempts)", ev.ID, badger.ErrConflict, createAttempts)
}

// createEvent is one attempt of CreateEvent.
func (b *Badger) createEvent(ev Event, ds []Delivery, retention time.Duration) (Event, []Delivery, bool, error) {
	txn := b.db.NewTransaction(true)
	defer txn.Discard()
	now := b.now()
	var ik []byte
	if ev.IdempotencyKey != "" {
		ik = idemKey(ev.IdempotencyKey)
		v, _, found, err := getValue(txn, ik)
		if err != nil {
			return Event{}, nil, false, err
		}
		var rec idemRecord
		if found {
			if err := decodeJSON(v, &rec); err != nil {
				return Event{}, nil, false, err
			}
		}
		if found && now.Before(rec.Expires) {
			first, firstDs, err := b.loadEvent(txn, rec.EventID, now)
			switch {
			case err == nil && first.IdempotencyKey == ev.IdempotencyKey:
				return first, firstDs, false, nil
			case err != nil && !errors.Is(err, ErrNotFound):
				return Event{}, nil, false, err
			}
			// The key's event is gone: the key is free again.
		}
	}
	if _, found, err := getItem(txn, eventKey(ev.ID)); err != nil || found {
		if err == nil {
			err = fmt.Errorf("store: event ID %s already exists", ev.ID)
		}
		return Event{}, nil, false, err
	}

	expires := now.Add(retention)
	ttl := uint64(time.Now().Add(retention + ttlMargin).Unix())
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	slices.Sort(ids)
	v, err := encodeEvent(ev, expires, ids)
	if err != nil {
		return Event{}, nil, false, err
	}
	if err := setWithExpiry(txn, eventKey(ev.ID), v, ttl); err != nil {
		return Event{}, nil, false, err
	}
	for _, d := range ds {
		if _, found, err := getItem(txn, deliveryKey(d.ID)); err != nil || found {
			if err == nil {
				err = fmt.Errorf("store: delivery ID %s already exists", d.ID)
			}
			return Event{}, nil, false, err
		}
		if err := putDelivery(txn, deliveryRecord{Expires: expires, Delivery: d}, ttl); err != nil {
			return Event{}, nil, false, err
		}
		if err := enqueue(txn, d, expires, ttl); err != nil {
			return Event{}, nil, false, err
		}
	}
	if ik != nil {
		v, err := json.Marshal(idemRecord{EventID: ev.ID, Expires: expires})
		if err != nil {
			return Event{}, nil, false, err
		}
		if err := setWithExpiry(txn, ik, v, ttl); err != nil {
			return Event{}, nil, false, err
		}
	}
	b.hook("create_event")
	if err := txn.Commit(); err != nil {
		return Event{}, nil, false, err
	}
	for _, d := range ds {
		b.queueFloor.lower(d)
	}
	return ev, ds, true, nil
}

// GetEvent implements Outbound. An event past its retention, by the store's
// clock, is not found even while Badger still holds it. Deliveries come in
// ID order.
func (b *Badger) GetEvent(ctx context.Context, id string) (Event, []Delivery, error) {
	if err := b.acquire(ctx); err != nil {
		return Event{}, nil, err
	}
	defer b.mu.RUnlock()
	var ev Event
	var ds []Delivery
	err := b.db.View(func(txn *badger.Txn) error {
		var err error
		ev, ds, err = b.loadEvent(txn, id, b.now())
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Event{}, nil, fmt.Errorf("reading event %s: %w", id, err)
	}
	return ev, ds, err
}

// GetEventOnly implements Outbound, reading only the event's record.
func (b *Badger) GetEventOnly(ctx context.Context, id string) (Event, error) {
	if err := b.acquire(ctx); err != nil {
		return Event{}, err
	}
	defer b.mu.RUnlock()
	var ev Event
	err := b.db.View(func(txn *badger.Txn) error {
		rec, err := readEvent(txn, id, b.now())
		ev = rec.Event
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Event{}, fmt.Errorf("reading event %s: %w", id, err)
	}
	return ev, err
}

// ListEvents implements Outbound: a reverse scan of the event keys, whose
// IDs sort by creation time. It examines at most ListScanLimit events per
// call (see there). When both EndpointID and Status are set, one delivery
// must match both.
func (b *Badger) ListEvents(ctx context.Context, f EventFilter) ([]Event, error) {
	limit, err := checkEventFilter(f)
	if err != nil {
		return nil, err
	}
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	out := []Event{}
	err = b.db.View(func(txn *badger.Txn) error {
		now := b.now()
		it := txn.NewIterator(badger.IteratorOptions{
			Prefix:         []byte(eventPrefix),
			Reverse:        true,
			PrefetchValues: true,
			PrefetchSize:   min(limit, 100),
		})
		defer it.Close()
		// IDs are printable, so 0xff sorts after every event key.
		seek := append([]byte(eventPrefix), 0xff)
		var after []byte
		if f.After != "" {
			after = eventKey(f.After)
			seek = after
		}
		scanned := 0
		for it.Seek(seek); it.Valid() && len(out) < limit && scanned < b.listScanLimit; it.Next() {
			item := it.Item()
			if after != nil && bytes.Equal(item.Key(), after) {
				continue
			}
			scanned++
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			rec, err := decodeEventRecord(v)
			if err != nil {
				return fmt.Errorf("%s: %w", item.Key(), err)
			}
			ev := rec.Event
			if !now.Before(rec.Expires) || (f.Type != "" && ev.Type != f.Type) {
				continue
			}
			if f.EndpointID != "" || f.Status != "" {
				ok, err := hasDelivery(txn, rec, f.EndpointID, f.Status)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	return out, nil
}

// GetDelivery implements Outbound. A delivery past its event's retention is
// not found.
func (b *Badger) GetDelivery(ctx context.Context, id string) (Delivery, error) {
	if err := b.acquire(ctx); err != nil {
		return Delivery{}, err
	}
	defer b.mu.RUnlock()
	var d Delivery
	err := b.db.View(func(txn *badger.Txn) error {
		rec, _, err := getDelivery(txn, id, b.now())
		d = rec.Delivery
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Delivery{}, fmt.Errorf("reading delivery %s: %w", id, err)
	}
	return d, err
}

// ClaimDue implements Outbound. It walks the queue in due order up to now,
// in one transaction: each delivery it claims gets UpdatedAt now and its
// queue entry moves to the new LeaseUntil. Entries of deliveries past
// retention are dropped on the way. Claims are serialized within the
// process; a write conflict with another writer retries the transaction,
// and after updateAttempts conflicts it returns the error.
func (b *Badger) ClaimDue(ctx context.Context, now time.Time, limit int, token string, lease time.Duration) ([]Delivery, error) {
	if err := checkClaimDueArgs(limit, token, lease); err != nil {
		return nil, err
	}
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	b.claimMu.Lock()
	defer b.claimMu.Unlock()
	for range updateAttempts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ds, err := b.claimDue(now, limit, token, lease)
		if errors.Is(err, badger.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("claiming due deliveries: %w", err)
		}
		return ds, nil
	}
	return nil, fmt.Errorf("claiming due deliveries: %w (%d attempts)", badger.ErrConflict, updateAttempts)
}

// claimDue is one attempt of ClaimDue.
func (b *Badger) claimDue(now time.Time, limit int, token string, lease time.Duration) ([]Delivery, error) {
	// The scan begins before the snapshot: a write the snapshot misses
	// commits after it, so reports to the floor after start.
	floor := b.queueFloor.start()
	txn := b.db.NewTransaction(true)
	defer txn.Discard()
	b.hook("claim_snapshot")
	clock := b.now()
	type claim struct {
		key []byte
		d   Delivery
		v   []byte // the claimed record, encoded
		exp time.Time
		ttl uint64
	}
	var claims []claim
	// Records carry the head of each attempt's answer, so a claim's writes
	// are bounded in bytes too, to half of Badger's limit for one
	// transaction (15% of a memtable).
	budget, size := b.db.Opts().MemTableSize*15/100/2, int64(0)
	var stale [][]byte
	due := queueNanos(now)
	// Everything before the floor has been claimed or dropped: start there
	// rather than step over the deleted entries of every earlier claim.
	// reached is how far the scan knows the queue to be settled.
	reached := due
	// Iterate under the longest prefix that the keys from the floor to due
	// share: Badger steps over deleted keys inside the iteration's prefix
	// without showing them, and right after due lie the deleted lease
	// entries of every delivery settled within the lease, thousands on a
	// busy queue, which the loop would otherwise walk to reach its end.
	start, end := queueFloorKey(floor), queueFloorKey(due)
	shared := 0
	for shared < len(start) && start[shared] == end[shared] {
		shared++
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: start[:shared]})
	for it.Seek(start); it.Valid(); it.Next() {
		k := it.Item().KeyCopy(nil)
		at, id, ok := parseQueueKey(k)
		if !ok {
			stale = append(stale, k)
			continue
		}
		if at > due {
			break
		}
		if len(claims) == limit || len(stale) == maxStaleDrops {
			reached = at
			break
		}
		rec, ttl, err := getDelivery(txn, id, clock)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				// Keep the record for inspection, but never let it wedge
				// the queue.
				b.logger.Warn("dropping queue entry of unreadable delivery", zap.String("delivery", id), zap.Error(err))
			}
			stale = append(stale, k)
			continue
		}
		slot, _, queued := queueSlot(rec.Delivery)
		if !queued || queueNanos(slot) != at {
			stale = append(stale, k) // not where the delivery says it is due
			continue
		}
		d := &rec.Delivery
		d.Status = DeliveryDelivering
		d.LeaseToken = token
		d.LeaseUntil = now.Add(lease)
		d.UpdatedAt = now
		v, err := encodeDeliveryRecord(rec)
		if err != nil {
			return nil, err
		}
		if size += int64(len(v) + 3*len(k)); size > budget && len(claims) > 0 {
			reached = at
			break
		}
		claims = append(claims, claim{key: k, d: *d, v: v, exp: rec.Expires, ttl: ttl})
	}
	it.Close()

	for _, k := range stale {
		if err := txn.Delete(k); err != nil {
			return nil, err
		}
	}
	out := make([]Delivery, 0, len(claims))
	for _, c := range claims {
		if err := txn.Delete(c.key); err != nil {
			return nil, err
		}
		if err := setWithExpiry(txn, deliveryKey(c.d.ID), c.v, c.ttl); err != nil {
			return nil, err
		}
		if err := enqueue(txn, c.d, c.exp, c.ttl); err != nil {
			return nil, err
		}
		out = append(out, c.d)
	}
	if len(stale) > 0 || len(claims) > 0 {
		b.hook("claim_due")
		if err := txn.Commit(); err != nil {
			return nil, err
		}
	}
	for _, d := range out {
		b.queueFloor.lower(d)
	}
	b.queueFloor.raise(reached)
	return out, nil
}

// UpdateDelivery implements Outbound. Ownership is judged by the store's
// clock: a delivery is held while it is delivering and that clock is
// before its LeaseUntil. d must keep the stored EventID and EndpointID, and
// must be one the queue can hold (a pending delivery needs NextAttemptAt, a
// delivering one LeaseUntil). The queue entry follows d's status: pending
// at NextAttemptAt, delivering at LeaseUntil, none for a final status.
func (b *Badger) UpdateDelivery(ctx context.Context, d Delivery, token string) error {
	if err := checkDelivery(d); err != nil {
		return err
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	for range updateAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := b.db.Update(func(txn *badger.Txn) error {
			now := b.now()
			rec, ttl, err := getDelivery(txn, d.ID, now)
			if err != nil {
				return err
			}
			cur := rec.Delivery
			held := cur.Status == DeliveryDelivering && now.Before(cur.LeaseUntil)
			allowed := !held // an operator's retry
			if token != "" {
				allowed = held && cur.LeaseToken == token
			}
			if !allowed {
				return ErrNotOwner
			}
			if d.EventID != cur.EventID || d.EndpointID != cur.EndpointID {
				return fmt.Errorf("store: delivery %s belongs to event %s and endpoint %s, not %q and %q",
					d.ID, cur.EventID, cur.EndpointID, d.EventID, d.EndpointID)
			}
			if at, _, queued := queueSlot(cur); queued {
				if err := txn.Delete(queueKey(at, cur.ID)); err != nil {
					return err
				}
			}
			rec.Delivery = d
			if err := putDelivery(txn, rec, ttl); err != nil {
				return err
			}
			if err := enqueue(txn, d, rec.Expires, ttl); err != nil {
				return err
			}
			b.hook("update_delivery")
			return nil
		})
		if err == nil {
			b.queueFloor.lower(d)
		}
		switch {
		case err == nil || errors.Is(err, ErrNotOwner) || errors.Is(err, ErrNotFound):
			return err
		case !errors.Is(err, badger.ErrConflict):
			return fmt.Errorf("updating delivery %s: %w", d.ID, err)
		}
	}
	return fmt.Errorf("updating delivery %s: %w (%d attempts)", d.ID, badger.ErrConflict, updateAttempts)
}

// QueueDepth implements Outbound, from the queue keys and values alone:
// entries due at now (pending, or delivering with a lapsed lease) and
// pending entries due later. Entries of deliveries past retention by the
// store's clock are not counted.
func (b *Badger) QueueDepth(ctx context.Context, now time.Time) (due, scheduled int, err error) {
	if err := b.acquire(ctx); err != nil {
		return 0, 0, err
	}
	defer b.mu.RUnlock()
	limit := queueNanos(now)
	err = b.db.View(func(txn *badger.Txn) error {
		clock := b.now()
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(queuePrefix), PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			at, _, ok := parseQueueKey(item.Key())
			if !ok {
				continue
			}
			var kind byte
			var expires time.Time
			if err := item.Value(func(v []byte) error {
				kind, expires, ok = decodeQueueValue(v)
				return nil
			}); err != nil {
				return err
			}
			switch {
			case !ok || !clock.Before(expires):
			case at <= limit:
				due++
			case kind == queuePending:
				scheduled++
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("counting the queue: %w", err)
	}
	return due, scheduled, nil
}

// hook runs the beforeCommit test hook, if set.
func (b *Badger) hook(op string) {
	if b.beforeCommit != nil {
		b.beforeCommit(op)
	}
}

// endpointLock is the stripe of endpointMu that guards id.
func (b *Badger) endpointLock(id string) *sync.Mutex {
	return stripe(&b.endpointMu, id)
}

// loadEvent reads an event and its deliveries as of now, the store clock's
// reading. It returns ErrNotFound for an absent or expired event.
func (b *Badger) loadEvent(txn *badger.Txn, id string, now time.Time) (Event, []Delivery, error) {
	rec, err := readEvent(txn, id, now)
	if err != nil {
		return Event{}, nil, err
	}
	ds := []Delivery{}
	err = eachEventDelivery(txn, rec, func(d deliveryRecord) bool {
		ds = append(ds, d.Delivery)
		return true
	})
	if err != nil {
		return Event{}, nil, err
	}
	return rec.Event, ds, nil
}

// readEvent reads event id's record alone as of now; ErrNotFound if it is
// absent or expired.
func readEvent(txn *badger.Txn, id string, now time.Time) (eventRecord, error) {
	v, _, found, err := getValue(txn, eventKey(id))
	if err != nil {
		return eventRecord{}, err
	}
	if !found {
		return eventRecord{}, ErrNotFound
	}
	rec, err := decodeEventRecord(v)
	if err != nil {
		return eventRecord{}, err
	}
	if !now.Before(rec.Expires) {
		return eventRecord{}, ErrNotFound
	}
	return rec, nil
}

// hasDelivery reports whether the event of ev has a delivery to endpointID
// (if set) in status (if set).
func hasDelivery(txn *badger.Txn, ev eventRecord, endpointID, status string) (bool, error) {
	match := false
	err := eachEventDelivery(txn, ev, func(rec deliveryRecord) bool {
		d := rec.Delivery
		match = (endpointID == "" || d.EndpointID == endpointID) && (status == "" || d.Status == status)
		return !match
	})
	return match, err
}

// eachEventDelivery calls fn with each delivery of ev, in ID order, until
// fn returns false: those ev lists, or for an event stored before events
// listed them, those of its index keys. A delivery that is gone is
// skipped.
func eachEventDelivery(txn *badger.Txn, ev eventRecord, fn func(deliveryRecord) bool) error {
	each := func(did string) (bool, error) {
		rec, _, found, err := readDelivery(txn, did)
		if err != nil {
			return false, fmt.Errorf("delivery %s: %w", did, err)
		}
		return !found || fn(rec), nil
	}
	if ev.Listed {
		for _, did := range ev.Deliveries {
			if more, err := each(did); err != nil || !more {
				return err
			}
		}
		return nil
	}
	prefix := eventDeliveriesPrefix(ev.Event.ID)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if more, err := each(string(it.Item().Key()[len(prefix):])); err != nil || !more {
			return err
		}
	}
	return nil
}

// readDelivery decodes delivery id in place, without copying its value,
// and returns its Badger expiry.
func readDelivery(txn *badger.Txn, id string) (rec deliveryRecord, ttl uint64, found bool, err error) {
	item, found, err := getItem(txn, deliveryKey(id))
	if err != nil || !found {
		return rec, 0, false, err
	}
	err = item.Value(func(v []byte) error {
		rec, err = decodeDeliveryRecord(v)
		return err
	})
	return rec, item.ExpiresAt(), err == nil, err
}

// getItem reads the item at k, reporting whether it exists.
func getItem(txn *badger.Txn, k []byte) (*badger.Item, bool, error) {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return item, true, nil
}

// getValue reads a copy of the value at k and its Badger expiry.
func getValue(txn *badger.Txn, k []byte) (v []byte, ttl uint64, found bool, err error) {
	item, found, err := getItem(txn, k)
	if err != nil || !found {
		return nil, 0, false, err
	}
	v, err = item.ValueCopy(nil)
	if err != nil {
		return nil, 0, false, err
	}
	return v, item.ExpiresAt(), true, nil
}

// getDelivery reads delivery id with its Badger expiry; ErrNotFound if it
// is absent or past its logical expiry at now.
func getDelivery(txn *badger.Txn, id string, now time.Time) (deliveryRecord, uint64, error) {
	rec, ttl, found, err := readDelivery(txn, id)
	if err != nil {
		return deliveryRecord{}, 0, err
	}
	if !found || !now.Before(rec.Expires) {
		return deliveryRecord{}, 0, ErrNotFound
	}
	return rec, ttl, nil
}

// queueFloor tracks the earliest queue time that may hold a live entry,
// so that ClaimDue can seek past the entries deleted by earlier claims:
// in an LSM tree a deleted key still has to be stepped over until
// compaction, and a busy queue deletes thousands a second. Every queue
// write of this process reports to it after its commit; a scan raises it
// only as far as it settled the queue and no write reported lower since
// the scan began. ClaimDue's claimMu serializes scans.
type queueFloor struct {
	mu    sync.Mutex
	floor uint64 // no live entry is due before it
	low   uint64 // the earliest entry written since the current scan began
}

// lower reports a queue write for d, if d is queued.
func (q *queueFloor) lower(d Delivery) {
	at, _, queued := queueSlot(d)
	if !queued {
		return
	}
	n := queueNanos(at)
	q.mu.Lock()
	q.floor = min(q.floor, n)
	q.low = min(q.low, n)
	q.mu.Unlock()
}

// start begins a scan and returns where it starts.
func (q *queueFloor) start() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.low = math.MaxUint64
	return q.floor
}

// raise ends a scan that settled every entry due before reached.
func (q *queueFloor) raise(reached uint64) {
	q.mu.Lock()
	q.floor = max(q.floor, min(reached, q.low))
	q.mu.Unlock()
}

// queueFloorKey is the first queue key due at n.
func queueFloorKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(queuePrefix), n)
}

// putDelivery writes rec with the Badger expiry ttl (Unix seconds).
func putDelivery(txn *badger.Txn, rec deliveryRecord, ttl uint64) error {
	v, err := encodeDeliveryRecord(rec)
	if err != nil {
		return err
	}
	return setWithExpiry(txn, deliveryKey(rec.Delivery.ID), v, ttl)
}

// enqueue writes d's queue entry, if its status has one.
func enqueue(txn *badger.Txn, d Delivery, expires time.Time, ttl uint64) error {
	at, kind, queued := queueSlot(d)
	if !queued {
		return nil
	}
	return setWithExpiry(txn, queueKey(at, d.ID), encodeQueueValue(kind, expires), ttl)
}

// setWithExpiry writes v at k with Badger expiry ttl, in Unix seconds by
// the wall clock (zero: none). It only collects garbage: logic reads the
// logical expiry held in the records.
func setWithExpiry(txn *badger.Txn, k, v []byte, ttl uint64) error {
	e := badger.NewEntry(k, v)
	e.ExpiresAt = ttl
	return txn.SetEntry(e)
}

// checkEventArgs validates CreateEvent's arguments.
func checkEventArgs(ev Event, ds []Delivery, retention time.Duration) error {
	if err := checkRecordID("event", ev.ID); err != nil {
		return err
	}
	if err := checkPositive("retention", retention); err != nil {
		return err
	}
	seen := make(map[string]bool, len(ds))
	for _, d := range ds {
		if err := checkDelivery(d); err != nil {
			return err
		}
		switch {
		case d.EventID != ev.ID:
			return fmt.Errorf("store: delivery %s has event ID %q, want %s", d.ID, d.EventID, ev.ID)
		case d.EndpointID == "":
			return fmt.Errorf("store: delivery %s has no endpoint ID", d.ID)
		case seen[d.ID]:
			return fmt.Errorf("store: delivery ID %s appears twice", d.ID)
		}
		seen[d.ID] = true
	}
	return nil
}

// Interface guards
var _ Outbound = (*Badger)(nil)
