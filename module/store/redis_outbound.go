package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// PutEndpoint implements Outbound. Endpoints have no expiry.
func (r *Redis) PutEndpoint(ctx context.Context, e Endpoint) error {
	if err := checkRecordID("endpoint", e.ID); err != nil {
		return err
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding endpoint %s: %w", e.ID, err)
	}
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.mu.RUnlock()
	_, err = r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.key("ep:", e.ID), v, 0)
		p.SAdd(ctx, r.key("eps", ""), e.ID)
		return nil
	})
	if err != nil {
		return r.fail("storing endpoint "+e.ID, err)
	}
	return nil
}

// UpdateEndpoint implements Outbound with an optimistic transaction
// (WATCH): fn runs again on a fresh copy if another writer, in this
// process or another replica, changed the endpoint first, at most
// redisAttempts times. Updates within the process queue up first.
func (r *Redis) UpdateEndpoint(ctx context.Context, id string, fn func(e *Endpoint) error) (Endpoint, error) {
	if err := checkRecordID("endpoint", id); err != nil {
		return Endpoint{}, err
	}
	if err := r.acquire(ctx); err != nil {
		return Endpoint{}, err
	}
	defer r.mu.RUnlock()
	mu := stripe(&r.endpointMu, id)
	mu.Lock()
	defer mu.Unlock()
	k := r.key("ep:", id)
	for attempt := range redisAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return Endpoint{}, ctx.Err()
			case <-time.After(time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(time.Millisecond)))):
			}
		}
		var e Endpoint
		var fnErr error
		err := r.client.Watch(ctx, func(tx *redis.Tx) error {
			v, err := tx.Get(ctx, k).Bytes()
			if isRedisNil(err) {
				return ErrNotFound
			}
			if err != nil {
				return err
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
			if v, err = json.Marshal(e); err != nil {
				return fmt.Errorf("encoding endpoint %s: %w", id, err)
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, k, v, 0)
				return nil
			})
			return err
		}, k)
		switch {
		case fnErr != nil:
			return Endpoint{}, fnErr
		case err == nil:
			return e, nil
		case errors.Is(err, ErrNotFound):
			return Endpoint{}, err
		case !errors.Is(err, redis.TxFailedErr):
			return Endpoint{}, r.fail("updating endpoint "+id, err)
		}
	}
	return Endpoint{}, fmt.Errorf("updating endpoint %s: changed by others %d times in a row", id, redisAttempts)
}

// GetEndpoint implements Outbound.
func (r *Redis) GetEndpoint(ctx context.Context, id string) (Endpoint, error) {
	if err := r.acquire(ctx); err != nil {
		return Endpoint{}, err
	}
	defer r.mu.RUnlock()
	get := redis.NewStringCmd(ctx, "get", r.key("ep:", id))
	_ = r.send(ctx, get)
	v, err := get.Bytes()
	if isRedisNil(err) {
		return Endpoint{}, ErrNotFound
	}
	if err != nil {
		return Endpoint{}, r.fail("reading endpoint "+id, err)
	}
	var e Endpoint
	if err := decodeJSON(v, &e); err != nil {
		return Endpoint{}, fmt.Errorf("reading endpoint %s: %w", id, err)
	}
	return e, nil
}

// ListEndpoints implements Outbound.
func (r *Redis) ListEndpoints(ctx context.Context) ([]Endpoint, error) {
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	defer r.mu.RUnlock()
	members := redis.NewStringSliceCmd(ctx, "smembers", r.key("eps", ""))
	_ = r.send(ctx, members)
	ids, err := members.Result()
	if err != nil {
		return nil, r.fail("listing endpoints", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	slices.Sort(ids)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.key("ep:", id)
	}
	vals, err := r.mget(ctx, keys)
	if err != nil {
		return nil, r.fail("listing endpoints", err)
	}
	out := make([]Endpoint, 0, len(ids))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // deleted from under the set
		}
		var e Endpoint
		if err := decodeJSON([]byte(s), &e); err != nil {
			return nil, fmt.Errorf("listing endpoints: %s: %w", ids[i], err)
		}
		out = append(out, e)
	}
	return out, nil
}

// CreateEvent implements Outbound in one script: the idempotency check,
// the event, its deliveries, their index and queue entries and the key
// are written together or not at all, each with a Redis expiry of
// retention plus a margin; the logical expiry is the store clock's now
// plus retention.
func (r *Redis) CreateEvent(ctx context.Context, ev Event, ds []Delivery, retention time.Duration) (Event, []Delivery, bool, error) {
	if err := checkEventArgs(ev, ds, retention); err != nil {
		return Event{}, nil, false, err
	}
	if err := r.acquire(ctx); err != nil {
		return Event{}, nil, false, err
	}
	defer r.mu.RUnlock()
	now := r.now()
	expires := now.Add(retention)
	rec, err := encodeEvent(ev, expires, nil)
	if err != nil {
		return Event{}, nil, false, err
	}
	var idem string
	if ev.IdempotencyKey != "" {
		idem, _ = strings.CutPrefix(string(idemKey(ev.IdempotencyKey)), idemPrefix)
	}
	args := []any{r.prefix, hexTime(now), hexTime(expires), ms(retention + redisTTLMargin), ev.ID, rec, idem, len(ds)}
	for _, d := range ds {
		v, err := json.Marshal(deliveryRecord{Expires: expires, Delivery: d})
		if err != nil {
			return Event{}, nil, false, fmt.Errorf("encoding delivery %s: %w", d.ID, err)
		}
		tag, at := redisQueueSlot(d)
		args = append(args, d.ID, v, d.EndpointID, d.Status, d.LeaseToken, hexTime(d.LeaseUntil), tag, at)
	}
	for range redisAttempts {
		res, err := r.eval(ctx, createScript, nil, args...).Slice()
		if err != nil {
			return Event{}, nil, false, r.fail("creating event "+ev.ID, err)
		}
		code, _ := res[0].(int64)
		switch code {
		case 1:
			return ev, ds, true, nil
		case -1:
			return Event{}, nil, false, fmt.Errorf("store: %v", res[1])
		}
		firstID, _ := res[1].(string)
		first, firstDs, err := r.loadEvent(ctx, firstID)
		if errors.Is(err, ErrNotFound) {
			continue // it lapsed just now: the key is free again
		}
		if err != nil {
			return Event{}, nil, false, err
		}
		if first.IdempotencyKey != ev.IdempotencyKey {
			return Event{}, nil, false, fmt.Errorf("store: idempotency key of event %s collides with another key", firstID)
		}
		return first, firstDs, false, nil
	}
	return Event{}, nil, false, fmt.Errorf("creating event %s: its idempotency key kept lapsing", ev.ID)
}

// GetEvent implements Outbound: the event and its deliveries are read at
// one instant, in ID order. An event past its retention, by the store's
// clock, is not found even while Redis still holds it.
func (r *Redis) GetEvent(ctx context.Context, id string) (Event, []Delivery, error) {
	if err := r.acquire(ctx); err != nil {
		return Event{}, nil, err
	}
	defer r.mu.RUnlock()
	return r.loadEvent(ctx, id)
}

// GetEventOnly implements Outbound with one GET of the event's record.
func (r *Redis) GetEventOnly(ctx context.Context, id string) (Event, error) {
	if err := r.acquire(ctx); err != nil {
		return Event{}, err
	}
	defer r.mu.RUnlock()
	get := redis.NewStringCmd(ctx, "get", r.key("ev:", id))
	_ = r.send(ctx, get)
	v, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		return Event{}, ErrNotFound
	}
	if err != nil {
		return Event{}, r.fail("reading event "+id, err)
	}
	ev, expires, err := decodeEvent(v)
	if err != nil {
		return Event{}, fmt.Errorf("reading event %s: %w", id, err)
	}
	if !r.now().Before(expires) {
		return Event{}, ErrNotFound
	}
	return ev, nil
}

// loadEvent is GetEvent without the lock.
func (r *Redis) loadEvent(ctx context.Context, id string) (Event, []Delivery, error) {
	res, err := r.eval(ctx, loadEventScript, nil, r.prefix, id).Slice()
	if err != nil {
		return Event{}, nil, r.fail("reading event "+id, err)
	}
	s, ok := res[0].(string)
	if !ok {
		return Event{}, nil, ErrNotFound
	}
	ev, expires, err := decodeEvent([]byte(s))
	if err != nil {
		return Event{}, nil, fmt.Errorf("reading event %s: %w", id, err)
	}
	clock := r.now()
	if !clock.Before(expires) {
		return Event{}, nil, ErrNotFound
	}
	ds := []Delivery{}
	for f := res[1:]; len(f) >= 6; f = f[6:] {
		d, live, err := decodeRedisDelivery(f, clock)
		if err != nil {
			return Event{}, nil, fmt.Errorf("reading event %s: %w", id, err)
		}
		if live {
			ds = append(ds, d)
		}
	}
	return ev, ds, nil
}

// listPage is how many event IDs ListEvents reads per round trip.
const listPage = 100

// ListEvents implements Outbound: a reverse walk of the ordered event IDs,
// examining at most ListScanLimit events per call, as Badger does. When
// both EndpointID and Status are set, one delivery must match both. IDs
// whose event Redis has expired are dropped from the order on the way.
func (r *Redis) ListEvents(ctx context.Context, f EventFilter) ([]Event, error) {
	limit, err := checkEventFilter(f)
	if err != nil {
		return nil, err
	}
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	defer r.mu.RUnlock()
	out := []Event{}
	upper := "+"
	if f.After != "" {
		upper = "(" + f.After
	}
	clock := r.now()
	for scanned := 0; len(out) < limit && scanned < ListScanLimit; {
		page := redis.NewStringSliceCmd(ctx, "zrevrangebylex", r.key("evs", ""), upper, "-",
			"limit", 0, min(listPage, ListScanLimit-scanned))
		_ = r.send(ctx, page)
		ids, err := page.Result()
		if err != nil {
			return nil, r.fail("listing events", err)
		}
		if len(ids) == 0 {
			break
		}
		scanned += len(ids)
		upper = "(" + ids[len(ids)-1]
		evs, err := r.matchEvents(ctx, ids, f, clock)
		if err != nil {
			return nil, err
		}
		out = append(out, evs[:min(len(evs), limit-len(out))]...)
	}
	return out, nil
}

// matchEvents reads the events of ids and keeps, in order, those still
// kept at clock that match f.
func (r *Redis) matchEvents(ctx context.Context, ids []string, f EventFilter, clock time.Time) ([]Event, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.key("ev:", id)
	}
	vals, err := r.mget(ctx, keys)
	if err != nil {
		return nil, r.fail("listing events", err)
	}
	var gone []any
	var evs []Event
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			gone = append(gone, ids[i])
			continue
		}
		ev, expires, err := decodeEvent([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("listing events: %s: %w", ids[i], err)
		}
		if clock.Before(expires) && (f.Type == "" || ev.Type == f.Type) {
			evs = append(evs, ev)
		}
	}
	if len(gone) > 0 {
		if err := r.send(ctx, redis.NewIntCmd(ctx, append([]any{"zrem", r.key("evs", "")}, gone...)...)); err != nil {
			return nil, r.fail("listing events", err)
		}
	}
	if f.EndpointID == "" && f.Status == "" {
		return evs, nil
	}
	kept := evs[:0]
	for _, ev := range evs {
		ok, err := r.hasDelivery(ctx, ev.ID, f.EndpointID, f.Status)
		if err != nil {
			return nil, err
		}
		if ok {
			kept = append(kept, ev)
		}
	}
	return kept, nil
}

// hasDelivery reports whether event id has a delivery to endpointID (if
// set) in status (if set), reading the deliveries' statuses as they are
// now.
func (r *Redis) hasDelivery(ctx context.Context, id, endpointID, status string) (bool, error) {
	index := redis.NewStringSliceCmd(ctx, "zrange", r.key("evdl:", id), 0, -1)
	_ = r.send(ctx, index)
	dids, err := index.Result()
	if err != nil {
		return false, r.fail("listing events", err)
	}
	if len(dids) == 0 {
		return false, nil
	}
	cmds := make([]redis.Cmder, len(dids))
	for i, did := range dids {
		cmds[i] = redis.NewSliceCmd(ctx, "hmget", r.key("dl:", did), "ep", "st")
	}
	if err := r.send(ctx, cmds...); err != nil {
		return false, r.fail("listing events", err)
	}
	for _, c := range cmds {
		f := c.(*redis.SliceCmd).Val()
		ep, _ := f[0].(string)
		st, _ := f[1].(string)
		if (endpointID == "" || ep == endpointID) && (status == "" || st == status) {
			return true, nil
		}
	}
	return false, nil
}

// GetDelivery implements Outbound. A delivery past its event's retention
// is not found.
func (r *Redis) GetDelivery(ctx context.Context, id string) (Delivery, error) {
	if err := r.acquire(ctx); err != nil {
		return Delivery{}, err
	}
	defer r.mu.RUnlock()
	get := redis.NewSliceCmd(ctx, "hmget", r.key("dl:", id), "rec", "exp", "st", "tok", "lut", "ua")
	_ = r.send(ctx, get)
	f, err := get.Result()
	if err != nil {
		return Delivery{}, r.fail("reading delivery "+id, err)
	}
	d, live, err := decodeRedisDelivery(f, r.now())
	if err != nil {
		return Delivery{}, fmt.Errorf("reading delivery %s: %w", id, err)
	}
	if !live {
		return Delivery{}, ErrNotFound
	}
	return d, nil
}

// ClaimDue implements Outbound in one script, so concurrent claimers on
// every replica hand each delivery to one token: see claimScript. A lapsed
// lease is claimable again by any replica, which is how a dead replica's
// deliveries are taken over.
func (r *Redis) ClaimDue(ctx context.Context, now time.Time, limit int, token string, lease time.Duration) ([]Delivery, error) {
	if err := checkClaimDueArgs(limit, token, lease); err != nil {
		return nil, err
	}
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	defer r.mu.RUnlock()
	until := now.Add(lease)
	recs, err := r.eval(ctx, claimScript, nil, r.prefix, "("+hexTime(now.Add(time.Nanosecond)), hexTime(r.now()),
		limit, token, hexTime(until), until.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano)).StringSlice()
	if err != nil {
		return nil, r.fail("claiming due deliveries", err)
	}
	out := make([]Delivery, 0, len(recs))
	for _, s := range recs {
		var rec deliveryRecord
		if err := decodeJSON([]byte(s), &rec); err != nil {
			return nil, fmt.Errorf("claiming due deliveries: %w", err)
		}
		d := rec.Delivery
		d.Status, d.LeaseToken, d.LeaseUntil, d.UpdatedAt = DeliveryDelivering, token, until, now
		out = append(out, d)
	}
	return out, nil
}

// UpdateDelivery implements Outbound in one script that judges ownership
// by the store's clock, as Badger's does, and moves the queue entry with
// the status: pending at NextAttemptAt, delivering at LeaseUntil, none for
// a final status.
func (r *Redis) UpdateDelivery(ctx context.Context, d Delivery, token string) error {
	if err := checkDelivery(d); err != nil {
		return err
	}
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.mu.RUnlock()
	clock := r.now()
	// The record keeps its logical expiry, which the script holds as exp;
	// the JSON copy is only what the caller stored.
	v, err := json.Marshal(deliveryRecord{Delivery: d})
	if err != nil {
		return fmt.Errorf("encoding delivery %s: %w", d.ID, err)
	}
	tag, at := redisQueueSlot(d)
	res, err := r.eval(ctx, updateScript, nil, r.prefix, d.ID, hexTime(clock), token, d.EventID, d.EndpointID,
		v, d.Status, d.LeaseToken, hexTime(d.LeaseUntil), tag, at).Text()
	if err != nil {
		return r.fail("updating delivery "+d.ID, err)
	}
	switch {
	case res == "ok":
		return nil
	case res == "not_found":
		return ErrNotFound
	case res == "not_owner":
		return ErrNotOwner
	}
	ids := strings.SplitN(strings.TrimPrefix(res, "moved:"), ":", 2)
	return fmt.Errorf("store: delivery %s belongs to event %s and endpoint %s, not %q and %q",
		d.ID, ids[0], ids[len(ids)-1], d.EventID, d.EndpointID)
}

// QueueDepth implements Outbound: it first drops the entries of
// deliveries past retention by the store's clock, then counts.
func (r *Redis) QueueDepth(ctx context.Context, now time.Time) (due, scheduled int, err error) {
	if err := r.acquire(ctx); err != nil {
		return 0, 0, err
	}
	defer r.mu.RUnlock()
	next := hexTime(now.Add(time.Nanosecond))
	n, err := r.eval(ctx, depthScript, nil, r.prefix, "("+hexTime(r.now().Add(time.Nanosecond)), "("+next, "["+next).Int64Slice()
	if err != nil {
		return 0, 0, r.fail("counting the queue", err)
	}
	return int(n[0]), int(n[1]), nil
}

// mget reads keys through the pipeline; a missing key's value is nil.
func (r *Redis) mget(ctx context.Context, keys []string) ([]any, error) {
	args := make([]any, 0, 1+len(keys))
	args = append(args, "mget")
	for _, k := range keys {
		args = append(args, k)
	}
	cmd := redis.NewSliceCmd(ctx, args...)
	_ = r.send(ctx, cmd)
	return cmd.Result()
}

// redisQueueSlot is d's queue entry as the scripts take it: the set's tag
// and the hex time, or two empty strings for a final status.
func redisQueueSlot(d Delivery) (tag, at string) {
	t, kind, queued := queueSlot(d)
	if !queued {
		return "", ""
	}
	if kind == queuePending {
		return "d", hexTime(t)
	}
	return "l", hexTime(t)
}

// decodeRedisDelivery builds a delivery from its hash fields rec, exp, st,
// tok, lut and ua (missing ones nil), applying a claim's fields over the
// stored record. live is false when the delivery is absent or past its
// retention at clock.
func decodeRedisDelivery(f []any, clock time.Time) (Delivery, bool, error) {
	rec, _ := f[0].(string)
	exp, _ := f[1].(string)
	if rec == "" || exp <= hexTime(clock) {
		return Delivery{}, false, nil
	}
	var dr deliveryRecord
	if err := decodeJSON([]byte(rec), &dr); err != nil {
		return Delivery{}, false, err
	}
	d := dr.Delivery
	lut, _ := f[4].(string)
	if lut == "" {
		return d, true, nil
	}
	st, _ := f[2].(string)
	tok, _ := f[3].(string)
	ua, _ := f[5].(string)
	leaseUntil, err1 := time.Parse(time.RFC3339Nano, lut)
	updatedAt, err2 := time.Parse(time.RFC3339Nano, ua)
	if err := errors.Join(err1, err2); err != nil {
		return Delivery{}, false, fmt.Errorf("%w: %v", errCorruptRecord, err)
	}
	d.Status, d.LeaseToken, d.LeaseUntil, d.UpdatedAt = st, tok, leaseUntil, updatedAt
	return d, true, nil
}

// Interface guards
var _ Outbound = (*Redis)(nil)
