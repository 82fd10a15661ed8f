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
	"sync/atomic"
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

	pool atomic.Pointer[workerPool] // Run's workers, while it runs

	throttleMu sync.Mutex
	throttled  map[string]time.Time // endpoint ID → no attempt before this
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
		if err := d.attempt(ctx, dl, token, nil); err != nil && ctx.Err() == nil {
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
// the attempts under way have finished; deliveries claimed or handed over
// but not yet attempted are then given back, due at once. Whenever workers
// are idle it claims as many due deliveries as there are idle workers in
// one ClaimDue, so a busy queue costs one store transaction per batch, not
// per delivery. With nothing due it rests until wake or poll. While the
// store fails it backs off, from poll doubling up to maxStoreBackoff, and
// logs once when that starts and once when the store answers again. While
// it runs, a Handoff may queue fresh deliveries for its workers directly;
// workers take from that queue and from the claims alike.
func (d *Dispatcher) Run(ctx context.Context, workers int, wake <-chan struct{}, poll time.Duration) {
	p := &workerPool{
		idle:  make(chan struct{}, workers),
		work:  make(chan claimed, workers),
		slots: make(chan struct{}, workers*readyPerWorker),
		ready: make(chan claimed, workers*readyPerWorker),
	}
	for range cap(p.slots) {
		p.slots <- struct{}{}
	}
	// Each worker takes one delivery at a time, claimed or handed over;
	// long-lived workers keep their grown stacks.
	var running sync.WaitGroup
	for range workers {
		p.idle <- struct{}{}
		running.Go(func() {
			for {
				select {
				case c, ok := <-p.work:
					if !ok {
						return
					}
					if ctx.Err() != nil {
						d.release(c)
					} else {
						d.attemptClaimed(ctx, c)
					}
					p.idle <- struct{}{}
				case c := <-p.ready:
					p.slots <- struct{}{}
					switch {
					case ctx.Err() != nil:
						d.release(c)
					// A delivery that waited so long that its lease could
					// lapse mid-attempt is left to the lease: once it
					// lapses, the delivery is claimed again.
					case c.dl.LeaseUntil.Sub(d.now()) > AttemptTimeout(d.Client):
						d.attemptClaimed(ctx, c)
					}
				}
			}
		})
	}
	d.pool.Store(p)
	defer func() {
		d.pool.Store(nil)
		p.close()
		running.Wait()
		// What no worker took is given back, not left to its lease.
		for c := range p.work {
			d.release(c)
		}
		for {
			select {
			case c := <-p.ready:
				d.release(c)
			default:
				return
			}
		}
	}()
	timer := time.NewTimer(poll)
	defer timer.Stop()
	failures := 0
	for {
		free := 0
		select {
		case <-ctx.Done():
			return
		case <-p.idle:
			free = 1
		}
		// Give attempts under way a moment to finish, so that a busy queue
		// is claimed in batches.
		gather := time.NewTimer(claimGather)
	take:
		for free < min(workers, maxClaim) {
			select {
			case <-p.idle:
				free++
			case <-gather.C:
				break take
			}
		}
		gather.Stop()
		token := newLeaseToken()
		due, err := d.Store.ClaimDue(ctx, d.now(), free, token, d.Lease)
		for range free - len(due) {
			p.idle <- struct{}{}
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
			p.work <- claimed{dl: dl, token: token}
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

// readyPerWorker sizes the queue of deliveries handed over at creation:
// up to this many for each worker wait in memory, stored leased; past it,
// fresh deliveries wait in the store's queue to be claimed.
const readyPerWorker = 4

// claimed is a delivery leased under token for a worker to attempt, with
// its event if the one who leased it has it at hand.
type claimed struct {
	dl    store.Delivery
	token string
	ev    *store.Event
}

// releaseTimeout bounds the store write that gives back a delivery no
// worker attempted before Run stopped.
const releaseTimeout = 5 * time.Second

// release gives back a delivery that Run stopped before a worker attempted
// it: it is due again at once, for the next dispatcher (a reloaded
// config's, or this process's after a restart) to take without waiting for
// its lease to lapse. If that fails, the lease still frees it in time.
func (d *Dispatcher) release(c claimed) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	dl, now := c.dl, d.now()
	dl.Status, dl.NextAttemptAt, dl.LeaseToken, dl.LeaseUntil, dl.UpdatedAt = store.DeliveryPending, now, "", time.Time{}, now
	if err := d.Store.UpdateDelivery(ctx, dl, c.token); err != nil && !errors.Is(err, store.ErrNotOwner) {
		d.Logger.Warn("giving back an unattempted delivery; it waits for its lease", zap.String("delivery_id", dl.ID), zap.Error(err))
	}
}

// attemptClaimed attempts c and logs a failure to record it.
func (d *Dispatcher) attemptClaimed(ctx context.Context, c claimed) {
	if err := d.attempt(ctx, c.dl, c.token, c.ev); err != nil && ctx.Err() == nil {
		d.Logger.Error("recording delivery attempt", zap.String("delivery_id", c.dl.ID), zap.Error(err))
	}
}

// workerPool is a running Run's workers and what they take work from.
// idle holds a token for each idle worker: Run claims as many deliveries
// as it holds tokens and sends them on work, which therefore never blocks.
// slots holds a token for each free place on ready, the queue of
// deliveries handed over at creation: a Handoff takes them before the
// deliveries are stored, so sending on ready never blocks either.
type workerPool struct {
	idle  chan struct{}
	work  chan claimed
	slots chan struct{}
	ready chan claimed

	mu     sync.RWMutex // held shared by senders outside Run
	closed bool         // work is closed
}

// close stops the workers once they have taken what was sent.
func (p *workerPool) close() {
	p.mu.Lock()
	p.closed = true
	close(p.work)
	p.mu.Unlock()
}

// Handoff is places reserved in the workers' queue for deliveries about to
// be created, so that a fresh event is attempted without waiting to be
// claimed from the store: Lease marks the deliveries as held before they
// are stored, and Hand queues them for the workers once they are. If they
// are not stored, Cancel gives the places back.
type Handoff struct {
	pool  *workerPool
	n     int // places reserved
	token string
	lease time.Duration
}

// Reserve reserves up to n places in Run's queue of handed-over
// deliveries, none if Run is not running or the queue is full.
func (d *Dispatcher) Reserve(n int) Handoff {
	p := d.pool.Load()
	if p == nil {
		return Handoff{}
	}
	h := Handoff{pool: p, token: newLeaseToken(), lease: d.Lease}
	for h.n < n {
		select {
		case <-p.slots:
			h.n++
		default:
			return h
		}
	}
	return h
}

// Len is how many deliveries the handoff takes: the first Len of those
// passed to Lease.
func (h Handoff) Len() int { return h.n }

// Lease marks the first Len of ds as delivering, held from now for the
// dispatcher's lease, as ClaimDue would have left them: stored so, they
// are not claimed again unless the lease lapses, as it does if the process
// dies before their attempt is recorded.
func (h Handoff) Lease(ds []store.Delivery, now time.Time) {
	for i := range ds[:h.n] {
		ds[i].Status, ds[i].LeaseToken, ds[i].LeaseUntil = store.DeliveryDelivering, h.token, now.Add(h.lease)
	}
}

// Hand queues the leased deliveries of ev, now stored, for the workers. If
// Run has stopped meanwhile, they stay leased until the lease lapses, like
// an attempt a shutdown cuts short.
func (h Handoff) Hand(ev store.Event, ds []store.Delivery) {
	if h.n == 0 {
		return
	}
	h.pool.mu.RLock()
	defer h.pool.mu.RUnlock()
	if h.pool.closed {
		return
	}
	for _, dl := range ds[:h.n] {
		h.pool.ready <- claimed{dl: dl, token: h.token, ev: &ev}
	}
}

// Cancel gives the reserved places back.
func (h Handoff) Cancel() {
	for range h.n {
		h.pool.slots <- struct{}{}
	}
}

// attempt makes one attempt of dl, held under token, and records it. ev is
// dl's event if the caller has it, else nil and it is read from the store.
func (d *Dispatcher) attempt(ctx context.Context, dl store.Delivery, token string, ev *store.Event) error {
	ep, err := d.Store.GetEndpoint(ctx, dl.EndpointID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// An endpoint gone, disabled, or enabled again after this delivery
	// waited through its disable: the delivery is skipped, not replayed.
	// An operator's retry since the enable queues it afresh.
	queued := dl.CreatedAt
	if dl.RetriedAt.After(queued) {
		queued = dl.RetriedAt
	}
	if err != nil || ep.Status != store.EndpointActive || queued.Before(ep.EnabledAt) {
		return d.settle(ctx, ep.Name, dl, token, store.DeliverySkipped, time.Time{})
	}
	if until := d.throttledUntil(ep.ID); d.now().Before(until) {
		// Not an attempt: the endpoint asked for a pause.
		return d.settle(ctx, ep.Name, dl, token, store.DeliveryPending, until)
	}
	if ev == nil {
		stored, err := d.Store.GetEventOnly(ctx, dl.EventID)
		if errors.Is(err, store.ErrNotFound) {
			return d.settle(ctx, ep.Name, dl, token, store.DeliverySkipped, time.Time{})
		}
		if err != nil {
			return err
		}
		ev = &stored
	}

	start := d.now()
	status, body, retryAfter, sendErr := d.send(ctx, ep, *ev, start)
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
	// A retry is signed in a later second than this attempt: signatures
	// carry whole-second timestamps, and no two attempts of a delivery
	// may carry the same one (reliability.md case 46).
	next := start.Add(elapsed + wait)
	if second := start.Truncate(time.Second).Add(time.Second); next.Before(second) {
		next = second
	}
	switch {
	case outcome == Retry && sendErr == nil && Throttles(status):
		d.throttle(ep.ID, next)
	case outcome == Succeeded:
		d.throttle(ep.ID, time.Time{})
	}
	switch outcome {
	case Succeeded:
		return d.settle(ctx, ep.Name, dl, token, store.DeliverySucceeded, time.Time{})
	case Retry:
		return d.settle(ctx, ep.Name, dl, token, store.DeliveryPending, next)
	default: // Failed, DisableEndpoint
		return d.settle(ctx, ep.Name, dl, token, store.DeliveryFailed, time.Time{})
	}
}

// throttledUntil is when deliveries to the endpoint may be attempted
// again after it asked for a pause; zero if it did not.
func (d *Dispatcher) throttledUntil(endpointID string) time.Time {
	d.throttleMu.Lock()
	defer d.throttleMu.Unlock()
	return d.throttled[endpointID]
}

// throttle holds back the endpoint's deliveries until until; a zero until
// lifts the pause.
func (d *Dispatcher) throttle(endpointID string, until time.Time) {
	d.throttleMu.Lock()
	defer d.throttleMu.Unlock()
	switch {
	case until.IsZero():
		delete(d.throttled, endpointID)
	case until.After(d.throttled[endpointID]):
		if d.throttled == nil {
			d.throttled = map[string]time.Time{}
		}
		d.throttled[endpointID] = until
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
