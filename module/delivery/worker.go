package delivery

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/hookguard/hookguard/module/signature"
	"github.com/hookguard/hookguard/module/store"
)

// ResponseBodyChars is how much of an endpoint's answer each attempt keeps.
const ResponseBodyChars = 4000

// Dispatcher delivers due deliveries from the store: it leases them, signs
// the event's envelope with the endpoint's scheme and secrets, POSTs it,
// and records the attempt. A delivery is attempted at least once and is
// never attempted again after a success is recorded; there is no ordering
// promise between events.
type Dispatcher struct {
	// Store holds the queue, the event log and the endpoints.
	Store store.Outbound
	// Client sends the attempts; use Policy.Client for the SSRF guard.
	Client *http.Client
	// Schedule is the retry policy.
	Schedule Schedule
	// Lease is how long a worker holds a delivery; a delivery held by a
	// worker that died is attempted again once its lease lapses. It must
	// outlast an attempt's timeout.
	Lease time.Duration
	// DisableAfter disables an endpoint that has been failing this long.
	DisableAfter time.Duration
	// UserAgent is sent with every attempt.
	UserAgent string
	// Logger gets one line per failed attempt.
	Logger *zap.Logger
	// Observe, if set, is told of every attempt: the endpoint's name, the
	// outcome, and how long the attempt took.
	Observe func(endpoint string, o Outcome, d time.Duration)
	// Settled, if set, is told of every delivery that reaches a final
	// status (succeeded, failed or skipped), with its endpoint's name.
	Settled func(endpoint, status string)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand returns a number in [0, 1) for jitter; default math/rand.
	Rand func() float64
}

// RunOnce leases up to batch due deliveries and attempts each of them. It
// returns how many it attempted.
func (d *Dispatcher) RunOnce(ctx context.Context, batch int) (int, error) {
	token := newLeaseToken()
	due, err := d.Store.ClaimDue(ctx, d.now(), batch, token, d.Lease)
	if err != nil {
		return 0, fmt.Errorf("claiming due deliveries: %w", err)
	}
	for _, dl := range due {
		if err := d.attempt(ctx, dl, token); err != nil && ctx.Err() == nil {
			d.Logger.Error("recording delivery attempt", zap.String("delivery_id", dl.ID), zap.Error(err))
		}
	}
	return len(due), nil
}

const (
	// maxClaim bounds how many deliveries Run claims at once.
	maxClaim = 256
	// claimGather is how long Run waits for more idle workers before it
	// claims for fewer than all of them.
	claimGather = 2 * time.Millisecond
	// maxStoreBackoff caps Run's wait between claims while the store
	// fails, which is also how late it notices the store is back.
	maxStoreBackoff = 5 * time.Second
)

// Run attempts due deliveries, up to workers at once, until ctx ends and
// the attempts under way have finished. Whenever workers are idle it
// claims as many due deliveries as there are idle workers in one ClaimDue,
// so a busy queue costs one store transaction per batch, not per delivery.
// With nothing due it rests until wake or poll. While the store fails it
// backs off, from poll doubling up to maxStoreBackoff, and logs once when
// that starts and once when the store answers again.
func (d *Dispatcher) Run(ctx context.Context, workers int, wake <-chan struct{}, poll time.Duration) {
	type claimed struct {
		dl    store.Delivery
		token string
	}
	// Each worker takes one claimed delivery at a time and hands back an
	// idle token when done; long-lived workers keep their grown stacks.
	work := make(chan claimed, workers)
	idle := make(chan struct{}, workers) // one token per idle worker
	var running sync.WaitGroup
	for range workers {
		idle <- struct{}{}
		running.Go(func() {
			for c := range work {
				if err := d.attempt(ctx, c.dl, c.token); err != nil && ctx.Err() == nil {
					d.Logger.Error("recording delivery attempt", zap.String("delivery_id", c.dl.ID), zap.Error(err))
				}
				idle <- struct{}{}
			}
		})
	}
	defer running.Wait()
	defer close(work)
	timer := time.NewTimer(poll)
	defer timer.Stop()
	failures := 0
	for {
		free := 0
		select {
		case <-ctx.Done():
			return
		case <-idle:
			free = 1
		}
		// Give attempts under way a moment to finish, so that a busy queue
		// is claimed in batches.
		gather := time.NewTimer(claimGather)
	take:
		for free < min(workers, maxClaim) {
			select {
			case <-idle:
				free++
			case <-gather.C:
				break take
			}
		}
		gather.Stop()
		token := newLeaseToken()
		due, err := d.Store.ClaimDue(ctx, d.now(), free, token, d.Lease)
		for range free - len(due) {
			idle <- struct{}{}
		}
		rest := poll
		switch {
		case err != nil && ctx.Err() == nil:
			failures++
			rest = min(poll<<min(failures-1, 8), maxStoreBackoff)
			if failures == 1 {
				d.Logger.Error("claiming due webhook deliveries; backing off while the store fails", zap.Error(err))
			}
		case err == nil && failures > 0:
			d.Logger.Info("webhook store answers again; dispatching resumes", zap.Int("failed_claims", failures))
			failures = 0
		}
		for _, dl := range due {
			work <- claimed{dl, token}
		}
		if len(due) == free && err == nil {
			continue // there may be more due
		}
		timer.Reset(rest)
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
	}
}

// attempt makes one attempt of dl, held under token, and records it.
func (d *Dispatcher) attempt(ctx context.Context, dl store.Delivery, token string) error {
	ep, err := d.Store.GetEndpoint(ctx, dl.EndpointID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// An endpoint gone, disabled, or enabled again after this delivery
	// waited through its disable: the delivery is skipped, not replayed.
	if err != nil || ep.Status != store.EndpointActive || dl.CreatedAt.Before(ep.EnabledAt) {
		return d.settle(ctx, ep.Name, dl, token, store.DeliverySkipped, time.Time{})
	}
	ev, err := d.Store.GetEventOnly(ctx, dl.EventID)
	if errors.Is(err, store.ErrNotFound) {
		return d.settle(ctx, ep.Name, dl, token, store.DeliverySkipped, time.Time{})
	}
	if err != nil {
		return err
	}

	start := d.now()
	status, body, retryAfter, sendErr := d.send(ctx, ep, ev, start)
	if ctx.Err() != nil {
		// Shutting down is not the endpoint's fault: leave the delivery
		// to the next worker once the lease lapses.
		return nil
	}
	elapsed := d.now().Sub(start)
	at := store.Attempt{At: start, Duration: elapsed, ResponseStatus: status, ResponseBody: body}
	if sendErr != nil {
		at.Error = sendErr.Error()
	}
	dl.Attempts = append(dl.Attempts, at)

	outcome, wait := d.Schedule.Decide(len(dl.Attempts), Classify(status, sendErr), retryAfter, d.Rand)
	if d.Observe != nil {
		d.Observe(ep.Name, outcome, elapsed)
	}
	if outcome != Succeeded {
		d.Logger.Warn("webhook delivery attempt failed",
			zap.String("endpoint", ep.Name), zap.String("delivery_id", dl.ID), zap.String("event_id", ev.ID),
			zap.Int("attempt", len(dl.Attempts)), zap.Int("status", status), zap.String("error", at.Error),
			zap.String("outcome", outcome.String()), zap.Duration("retry_in", wait))
	}
	if err := d.recordHealth(ctx, ep, outcome, at); err != nil {
		return err
	}
	switch outcome {
	case Succeeded:
		return d.settle(ctx, ep.Name, dl, token, store.DeliverySucceeded, time.Time{})
	case Retry:
		return d.settle(ctx, ep.Name, dl, token, store.DeliveryPending, start.Add(elapsed+wait))
	default: // Failed, DisableEndpoint
		return d.settle(ctx, ep.Name, dl, token, store.DeliveryFailed, time.Time{})
	}
}

// send POSTs the signed envelope and reads the head of the answer.
func (d *Dispatcher) send(ctx context.Context, ep store.Endpoint, ev store.Event, now time.Time) (status int, body string, retryAfter time.Duration, err error) {
	var subject *Subject
	if len(ev.Subject) > 0 {
		subject = new(Subject)
		if err := json.Unmarshal(ev.Subject, subject); err != nil {
			return 0, "", 0, fmt.Errorf("stored subject: %w", err)
		}
	}
	envelope, err := Event{ID: ev.ID, Type: ev.Type, Created: ev.Created, Data: ev.Data, Subject: subject}.Envelope()
	if err != nil {
		return 0, "", 0, err
	}
	headers, err := SignHeaders(ep, ev.ID, envelope, now)
	if err != nil {
		return 0, "", 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(envelope))
	if err != nil {
		return 0, "", 0, err
	}
	for k, v := range ep.Headers {
		req.Header.Set(k, v)
	}
	for k, vs := range headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.UserAgent)
	resp, err := d.Client.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	body, err = ReadCapped(resp.Body, ResponseBodyChars)
	return resp.StatusCode, body, ParseRetryAfter(resp.Header.Get("Retry-After"), d.now()), err
}

// SignHeaders signs envelope for ep: every secret of ep still signing at
// now contributes a signature, so a rotation's old and new secrets both
// verify during the overlap.
func SignHeaders(ep store.Endpoint, id string, envelope []byte, now time.Time) (http.Header, error) {
	scheme, ok := SigningScheme(ep.Scheme)
	if !ok {
		return nil, fmt.Errorf("unknown signing scheme %q", ep.Scheme)
	}
	var secrets []signature.Secret
	for _, s := range ep.Secrets {
		if !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt) {
			continue
		}
		secret, err := scheme.ParseSecret(s.Value)
		if err != nil {
			return nil, fmt.Errorf("endpoint secret: %w", err)
		}
		secrets = append(secrets, secret)
	}
	return scheme.Sign(signature.Message{ID: id, Timestamp: now, Body: envelope, Method: http.MethodPost, URL: ep.URL}, secrets)
}

// settle records the delivery's new status, releasing the lease, and
// tells Settled of a final one.
func (d *Dispatcher) settle(ctx context.Context, endpoint string, dl store.Delivery, token, status string, next time.Time) error {
	dl.Status = status
	dl.NextAttemptAt = next
	dl.LeaseToken, dl.LeaseUntil = "", time.Time{}
	dl.UpdatedAt = d.now()
	if err := d.Store.UpdateDelivery(ctx, dl, token); err != nil {
		return err
	}
	if d.Settled != nil && status != store.DeliveryPending {
		d.Settled(endpoint, status)
	}
	return nil
}

// healthRefresh is how stale a healthy endpoint's last attempt time may
// get: a success after a success with the same status is written at most
// this often, which spares a synced write per delivery.
const healthRefresh = time.Second

// recordHealth updates the endpoint's health after an attempt, and
// disables it on a 410 or once it has been failing for DisableAfter. seen
// is the endpoint as read before the attempt.
func (d *Dispatcher) recordHealth(ctx context.Context, seen store.Endpoint, o Outcome, at store.Attempt) error {
	if h := seen.Health; o == Succeeded && h.LastStatus == store.DeliverySucceeded &&
		h.LastResponseStatus == at.ResponseStatus && at.At.Sub(h.LastAttemptAt) < healthRefresh {
		return nil
	}
	_, err := d.Store.UpdateEndpoint(ctx, seen.ID, func(ep *store.Endpoint) error {
		h := &ep.Health
		h.LastAttemptAt, h.LastResponseStatus, h.LastError = at.At, at.ResponseStatus, at.Error
		if o == Succeeded {
			h.LastStatus, h.ConsecutiveFailures, h.FailingSince = store.DeliverySucceeded, 0, time.Time{}
			return nil
		}
		h.LastStatus = store.DeliveryFailed
		h.ConsecutiveFailures++
		if h.FailingSince.IsZero() {
			h.FailingSince = at.At
		}
		switch {
		case o == DisableEndpoint:
			ep.Status, ep.DisabledReason = store.EndpointDisabled, "the endpoint answered 410 Gone"
		case d.DisableAfter > 0 && at.At.Sub(h.FailingSince) >= d.DisableAfter:
			ep.Status = store.EndpointDisabled
			ep.DisabledReason = fmt.Sprintf("failing since %s", h.FailingSince.UTC().Format(time.RFC3339))
		}
		if ep.Status == store.EndpointDisabled {
			ep.UpdatedAt = at.At
		}
		return nil
	})
	return err
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func newLeaseToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
