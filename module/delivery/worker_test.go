package delivery

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/zap"

	"github.com/hookguard/hookguard/internal/wait"
	"github.com/hookguard/hookguard/module/store"
)

// rig is a dispatcher on a real Badger store, a fake clock, and one
// loopback endpoint whose answers the test decides.
type rig struct {
	t      *testing.T
	db     *store.Badger
	d      *Dispatcher
	clock  time.Time
	answer atomic.Value // func(w http.ResponseWriter, r *http.Request)
	hits   atomic.Int32
	ep     store.Endpoint
}

const rigSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func newRig(t *testing.T) *rig {
	t.Helper()
	g := &rig{t: t, clock: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)}
	now := func() time.Time { return g.clock }
	db, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g.db = db
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hits.Add(1)
		g.answer.Load().(func(http.ResponseWriter, *http.Request))(w, r)
	}))
	t.Cleanup(srv.Close)
	g.respond(http.StatusOK)
	policy := Policy{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	g.d = &Dispatcher{
		Store: db, Client: policy.Client(5 * time.Second),
		Schedule:     Schedule{Attempts: 3, Backoff: []time.Duration{time.Minute, time.Hour}},
		Lease:        time.Minute,
		DisableAfter: 24 * time.Hour,
		UserAgent:    "Hookguard/test",
		Logger:       zap.NewNop(),
		Now:          now,
	}
	g.ep = store.Endpoint{ID: NewEndpointID(), Name: "sink", URL: srv.URL + "/hook", Scheme: "standard",
		Secrets: []store.EndpointSecret{{Value: rigSecret}}, Status: store.EndpointActive}
	if err := db.PutEndpoint(context.Background(), g.ep); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *rig) respond(status int, header ...string) {
	g.answer.Store(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
	})
}

// event returns a new event with n pending deliveries to the rig's
// endpoint, due now; nothing is stored.
func (g *rig) event(n int) (store.Event, []store.Delivery) {
	ev := store.Event{ID: NewEventID(), Type: "order.paid", Created: g.clock, Data: []byte(`{"n":1}`)}
	var ds []store.Delivery
	for range n {
		ds = append(ds, store.Delivery{ID: NewDeliveryID(), EventID: ev.ID, EndpointID: g.ep.ID,
			Status: store.DeliveryPending, NextAttemptAt: g.clock, CreatedAt: g.clock, UpdatedAt: g.clock})
	}
	return ev, ds
}

// enqueue stores one event with one delivery to the rig's endpoint.
func (g *rig) enqueue() store.Delivery {
	g.t.Helper()
	ev, ds := g.event(1)
	if _, _, _, err := g.db.CreateEvent(context.Background(), ev, ds, 30*24*time.Hour); err != nil {
		g.t.Fatal(err)
	}
	return ds[0]
}

// run makes one round and returns the delivery and its endpoint after it.
func (g *rig) run(id string) (store.Delivery, store.Endpoint) {
	g.t.Helper()
	if _, err := g.d.RunOnce(context.Background(), 10); err != nil {
		g.t.Fatal(err)
	}
	dl, err := g.db.GetDelivery(context.Background(), id)
	if err != nil {
		g.t.Fatal(err)
	}
	ep, err := g.db.GetEndpoint(context.Background(), g.ep.ID)
	if err != nil {
		g.t.Fatal(err)
	}
	return dl, ep
}

func TestDispatcherSucceeds(t *testing.T) {
	g := newRig(t)
	var verified atomic.Bool
	g.answer.Store(func(w http.ResponseWriter, r *http.Request) {
		wh, _ := standardwebhooks.NewWebhook(rigSecret)
		body := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(body)
		// The fake clock is years ahead, so check the signature alone.
		verified.Store(wh.VerifyIgnoringTimestamp(body, r.Header) == nil && r.Header.Get("User-Agent") == "Hookguard/test")
		_, _ = w.Write([]byte("thanks"))
	})
	dl, ep := g.run(g.enqueue().ID)
	if dl.Status != store.DeliverySucceeded || len(dl.Attempts) != 1 || dl.Attempts[0].ResponseBody != "thanks" || !verified.Load() {
		t.Fatalf("delivery %+v verified=%v", dl, verified.Load())
	}
	if ep.Health.ConsecutiveFailures != 0 || ep.Health.LastStatus != store.DeliverySucceeded {
		t.Fatalf("health %+v", ep.Health)
	}
	// Never again.
	g.clock = g.clock.Add(48 * time.Hour)
	if n, _ := g.d.RunOnce(context.Background(), 10); n != 0 || g.hits.Load() != 1 {
		t.Fatalf("a succeeded delivery was attempted again (%d, %d hits)", n, g.hits.Load())
	}
}

func TestDispatcherRetriesThenFails(t *testing.T) {
	g := newRig(t)
	g.respond(http.StatusInternalServerError)
	id := g.enqueue().ID
	dl, _ := g.run(id)
	if dl.Status != store.DeliveryPending || len(dl.Attempts) != 1 || dl.Attempts[0].ResponseStatus != 500 {
		t.Fatalf("after attempt 1: %+v", dl)
	}
	// The first backoff is 1m, jittered by at most 10%.
	if wait := dl.NextAttemptAt.Sub(g.clock); wait < 54*time.Second || wait > 66*time.Second {
		t.Fatalf("next attempt in %s, want 1m±10%%", wait)
	}
	if n, _ := g.d.RunOnce(context.Background(), 10); n != 0 {
		t.Fatal("retried before its time")
	}
	g.clock = dl.NextAttemptAt
	dl, _ = g.run(id)
	g.clock = dl.NextAttemptAt
	dl, ep := g.run(id)
	if dl.Status != store.DeliveryFailed || len(dl.Attempts) != 3 {
		t.Fatalf("after 3 attempts: %s with %d attempts", dl.Status, len(dl.Attempts))
	}
	if ep.Health.ConsecutiveFailures != 3 || ep.Status != store.EndpointActive {
		t.Fatalf("endpoint %+v", ep)
	}
}

func TestDispatcherRedirectIsAFailure(t *testing.T) {
	g := newRig(t)
	g.respond(http.StatusFound, "Location", "http://127.0.0.1:1/elsewhere")
	dl, _ := g.run(g.enqueue().ID)
	if dl.Status != store.DeliveryPending || dl.Attempts[0].ResponseStatus != http.StatusFound || g.hits.Load() != 1 {
		t.Fatalf("%+v after %d hits", dl, g.hits.Load())
	}
}

func TestDispatcherHonoursRetryAfter(t *testing.T) {
	g := newRig(t)
	g.respond(http.StatusTooManyRequests, "Retry-After", "120")
	dl, _ := g.run(g.enqueue().ID)
	if wait := dl.NextAttemptAt.Sub(g.clock); wait != 120*time.Second {
		t.Fatalf("next attempt in %s, want the 120s asked for", wait)
	}
}

func TestDispatcherGoneDisablesEndpoint(t *testing.T) {
	g := newRig(t)
	g.respond(http.StatusGone)
	first := g.enqueue().ID
	second := g.enqueue().ID
	if _, err := g.d.RunOnce(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	dl, ep := g.run(second)
	if ep.Status != store.EndpointDisabled || !strings.Contains(ep.DisabledReason, "410") {
		t.Fatalf("endpoint %+v", ep)
	}
	got, _ := g.db.GetDelivery(context.Background(), first)
	if got.Status != store.DeliveryFailed || dl.Status != store.DeliverySkipped || g.hits.Load() != 1 {
		t.Fatalf("first %s, second %s, %d hits", got.Status, dl.Status, g.hits.Load())
	}
}

func TestDispatcherDisablesAfterLongFailure(t *testing.T) {
	g := newRig(t)
	g.respond(http.StatusServiceUnavailable)
	g.d.Schedule = Schedule{Attempts: 10, Backoff: []time.Duration{13 * time.Hour}}
	id := g.enqueue().ID
	dl, ep := g.run(id)
	for ep.Status == store.EndpointActive && dl.Status == store.DeliveryPending {
		g.clock = dl.NextAttemptAt
		dl, ep = g.run(id)
	}
	if ep.Status != store.EndpointDisabled || len(dl.Attempts) != 3 || !strings.Contains(ep.DisabledReason, "failing since") {
		t.Fatalf("endpoint %s (%q) after %d attempts", ep.Status, ep.DisabledReason, len(dl.Attempts))
	}
}

func TestSignHeadersDuringRotation(t *testing.T) {
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	ep := store.Endpoint{Scheme: "standard", Secrets: []store.EndpointSecret{
		{Value: NewSigningSecret()},
		{Value: rigSecret, ExpiresAt: now.Add(time.Hour)},
		{Value: NewSigningSecret(), ExpiresAt: now},
	}}
	h, err := SignHeaders(ep, "wevt_x", []byte(`{}`), now)
	if err != nil {
		t.Fatal(err)
	}
	sigs := strings.Fields(h.Get("webhook-signature"))
	if len(sigs) != 2 {
		t.Fatalf("want the new and the overlapping secret to sign, got %q", sigs)
	}
	wh, _ := standardwebhooks.NewWebhook(rigSecret)
	if err := wh.VerifyIgnoringTimestamp([]byte(`{}`), h); err != nil {
		t.Fatalf("the overlapping secret does not verify: %v", err)
	}
}

// Deliveries that waited through an endpoint's disable are skipped, not
// replayed, when it is enabled again; later ones are delivered.
func TestDispatcherSkipsWhatWaitedThroughADisable(t *testing.T) {
	g := newRig(t)
	var settled []string
	g.d.Settled = func(endpoint, status string) { settled = append(settled, endpoint+" "+status) }
	waited := g.enqueue().ID
	g.clock = g.clock.Add(time.Second)
	if _, err := g.db.UpdateEndpoint(context.Background(), g.ep.ID, func(ep *store.Endpoint) error {
		ep.EnabledAt = g.clock // disabled, then enabled again now
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fresh := g.enqueue().ID
	if dl, _ := g.run(waited); dl.Status != store.DeliverySkipped {
		t.Fatalf("the delivery that waited: %s", dl.Status)
	}
	if dl, _ := g.run(fresh); dl.Status != store.DeliverySucceeded || g.hits.Load() != 1 {
		t.Fatalf("the later delivery: %s after %d hits", dl.Status, g.hits.Load())
	}
	if len(settled) != 2 || settled[0] != "sink skipped" || settled[1] != "sink succeeded" {
		t.Fatalf("settled %v", settled)
	}
	// An operator's retry since the enable delivers the skipped one.
	g.clock = g.clock.Add(time.Second)
	dl, err := g.db.GetDelivery(context.Background(), waited)
	if err != nil {
		t.Fatal(err)
	}
	dl.Status, dl.NextAttemptAt, dl.UpdatedAt, dl.RetriedAt = store.DeliveryPending, g.clock, g.clock, g.clock
	if err := g.db.UpdateDelivery(context.Background(), dl, ""); err != nil {
		t.Fatal(err)
	}
	if dl, _ := g.run(waited); dl.Status != store.DeliverySucceeded || g.hits.Load() != 2 {
		t.Fatalf("the retried delivery: %s after %d hits", dl.Status, g.hits.Load())
	}
}

// countingStore counts ClaimDue calls and can fail them.
type countingStore struct {
	store.Outbound
	claims atomic.Int32
	fail   atomic.Bool
}

func (s *countingStore) ClaimDue(ctx context.Context, now time.Time, limit int, token string, lease time.Duration) ([]store.Delivery, error) {
	s.claims.Add(1)
	if s.fail.Load() {
		return nil, errors.New("store down")
	}
	return s.Outbound.ClaimDue(ctx, now, limit, token, lease)
}

// Run delivers everything due, never more than workers at once, and
// claims in batches rather than once per delivery.
func TestRunDeliversInBatches(t *testing.T) {
	g := newRig(t)
	const n, workers = 200, 8
	var inFlight, peak atomic.Int32
	g.answer.Store(func(w http.ResponseWriter, r *http.Request) {
		cur := inFlight.Add(1)
		for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		w.WriteHeader(http.StatusOK)
	})
	var ids []string
	for range n {
		ids = append(ids, g.enqueue().ID)
	}
	cs := &countingStore{Outbound: g.db}
	g.d.Store = cs
	var settled atomic.Int32
	g.d.Settled = func(string, string) { settled.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.d.Run(ctx, workers, nil, time.Hour)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for settled.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := g.hits.Load(); got != n {
		t.Fatalf("endpoint saw %d attempts, want %d", got, n)
	}
	for _, id := range ids {
		if dl, err := g.db.GetDelivery(context.Background(), id); err != nil || dl.Status != store.DeliverySucceeded {
			t.Fatalf("delivery %s: %+v, %v; want succeeded", id, dl.Status, err)
		}
	}
	if p := peak.Load(); p > workers {
		t.Errorf("%d attempts at once, want at most %d", p, workers)
	}
	// One claim per delivery would be n; batches of idle workers make far
	// fewer (plus the final empty claim).
	if c := cs.claims.Load(); c > n/2 {
		t.Errorf("%d ClaimDue calls for %d deliveries, want batches", c, n)
	}
}

// While the store fails, Run backs off instead of spinning, and delivers
// once the store answers again.
func TestRunBacksOffWhileStoreFails(t *testing.T) {
	g := newRig(t)
	dl := g.enqueue()
	cs := &countingStore{Outbound: g.db}
	cs.fail.Store(true)
	g.d.Store = cs
	var settled atomic.Int32
	g.d.Settled = func(string, string) { settled.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.d.Run(ctx, 4, nil, 10*time.Millisecond)
	}()
	time.Sleep(300 * time.Millisecond)
	// 10, 20, 40, 80, 160 ms: about 5 claims in 300 ms, not hundreds.
	if c := cs.claims.Load(); c < 2 || c > 8 {
		t.Errorf("%d claims in 300ms of failures, want a doubling backoff", c)
	}
	cs.fail.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for settled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got, err := g.db.GetDelivery(context.Background(), dl.ID); err != nil || got.Status != store.DeliverySucceeded {
		t.Fatalf("after the store came back: %+v, %v; want succeeded", got.Status, err)
	}
}

// eventReadCounter counts the event reads attempts make.
type eventReadCounter struct {
	*countingStore
	reads atomic.Int32
}

func (s *eventReadCounter) GetEventOnly(ctx context.Context, id string) (store.Event, error) {
	s.reads.Add(1)
	return s.Outbound.GetEventOnly(ctx, id)
}

// Deliveries handed over at creation are stored leased and attempted with
// no claim and no read of the event, up to readyPerWorker a worker; the
// rest stay queued in the store. Places not used go back, one that waited
// until its lease could lapse mid-attempt is left to the lease, and a
// handoff after Run ends is dropped, its deliveries left to their lease.
func TestHandoff(t *testing.T) {
	g := newRig(t)
	st := &eventReadCounter{countingStore: &countingStore{Outbound: g.db}}
	g.d.Store = st
	var settled atomic.Int32
	g.d.Settled = func(string, string) { settled.Add(1) }
	if h := g.d.Reserve(1); h.Len() != 0 {
		t.Fatalf("reserved %d places before Run", h.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	const workers = 2
	go func() {
		defer close(done)
		g.d.Run(ctx, workers, nil, time.Hour) // claims once at start, then rests
	}()
	wait.Until(t, 5*time.Second, func() bool { return st.claims.Load() == 1 && g.d.Reserve(0).pool != nil })

	const places = workers * readyPerWorker
	h := g.d.Reserve(places)
	h.Cancel()
	if again := g.d.Reserve(places + 1); again.Len() != places {
		t.Fatalf("after a cancel, reserved %d of %d places", again.Len(), places)
	} else {
		again.Cancel()
	}

	// Hold both workers, so that what is handed over waits in the queue.
	release := make(chan struct{})
	g.answer.Store(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusOK)
	})
	create := func(n int, leased time.Time) (store.Event, []store.Delivery, Handoff) {
		ev, ds := g.event(n)
		h := g.d.Reserve(n)
		h.Lease(ds, leased)
		if _, _, _, err := g.db.CreateEvent(ctx, ev, ds, 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		h.Hand(ev, ds)
		return ev, ds, h
	}
	_, ds, h := create(places+1, g.clock)
	if h.Len() != places {
		t.Fatalf("reserved %d places, want %d", h.Len(), places)
	}
	close(release)
	wait.Until(t, 5*time.Second, func() bool { return settled.Load() == places })
	for i, d := range ds {
		want := store.DeliverySucceeded
		if i == places {
			want = store.DeliveryPending
		}
		if dl, err := g.db.GetDelivery(ctx, d.ID); err != nil || dl.Status != want {
			t.Errorf("delivery %d: %s, %v; want %s", i, dl.Status, err, want)
		}
	}
	if c, r := st.claims.Load(), st.reads.Load(); c != 1 || r != 0 {
		t.Errorf("%d claims and %d event reads, want none after the first claim", c, r)
	}

	// One handed over with less of its lease left than an attempt may
	// take is not attempted.
	hits := g.hits.Load()
	_, stale, _ := create(1, g.clock.Add(AttemptTimeout(g.d.Client)-g.d.Lease))
	time.Sleep(100 * time.Millisecond)
	if got := g.hits.Load(); got != hits {
		t.Fatalf("a delivery handed over too late was attempted")
	}
	if dl, err := g.db.GetDelivery(ctx, stale[0].ID); err != nil || dl.Status != store.DeliveryDelivering {
		t.Fatalf("stale handoff: %s, %v; want it left delivering", dl.Status, err)
	}

	late := g.d.Reserve(1)
	cancel()
	<-done
	late.Hand(store.Event{}, ds) // must not panic on the stopped pool
	if h := g.d.Reserve(1); h.Len() != 0 {
		t.Fatalf("reserved %d places after Run", h.Len())
	}
}

// When Run stops, the deliveries handed over and not yet attempted are
// given back, due at once, not left leased until their lease lapses.
func TestStopGivesBackUnattempted(t *testing.T) {
	g := newRig(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	g.answer.Store(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.d.Run(ctx, 1, nil, time.Hour)
	}()
	wait.Until(t, 5*time.Second, func() bool { return g.d.Reserve(0).pool != nil })

	ev, ds := g.event(3)
	h := g.d.Reserve(len(ds))
	h.Lease(ds, g.clock)
	if _, _, _, err := g.db.CreateEvent(ctx, ev, ds, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	h.Hand(ev, ds)
	wait.Until(t, 5*time.Second, func() bool { return g.hits.Load() == 1 }) // the one worker is held
	cancel()
	<-done

	given := 0
	for _, d := range ds {
		dl, err := g.db.GetDelivery(context.Background(), d.ID)
		switch {
		case err != nil:
			t.Fatal(err)
		case dl.Status == store.DeliveryPending && dl.LeaseToken == "" && !dl.NextAttemptAt.After(g.clock):
			given++
		case dl.Status != store.DeliveryDelivering:
			t.Errorf("delivery %s: %s", d.ID, dl.Status)
		}
	}
	// The attempt under way was cut short and stays with its lease; the
	// two waiting behind it are due again.
	if given != 2 {
		t.Fatalf("%d of the 2 unattempted deliveries given back", given)
	}
}

// A 429 (or 502 to 504) holds back the endpoint's other deliveries until
// the retry it asked for, without counting against their attempts
// (reliability.md case 47); then a success lifts the pause.
func TestDispatcherThrottlesAnOverloadedEndpoint(t *testing.T) {
	g := newRig(t)
	g.respond(http.StatusTooManyRequests, "Retry-After", "120")
	ids := []string{g.enqueue().ID, g.enqueue().ID}
	g.run(ids[0])
	if n := g.hits.Load(); n != 1 {
		t.Fatalf("%d attempts reached the endpoint, want 1", n)
	}
	var until time.Time
	attempts := 0
	for _, id := range ids {
		dl, err := g.db.GetDelivery(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if dl.Status != store.DeliveryPending {
			t.Fatalf("delivery %s is %s", id, dl.Status)
		}
		if until.IsZero() {
			until = dl.NextAttemptAt
		} else if !dl.NextAttemptAt.Equal(until) {
			t.Fatalf("next attempts at %v and %v, want both at the retry the endpoint asked for", until, dl.NextAttemptAt)
		}
		attempts += len(dl.Attempts)
	}
	if attempts != 1 || until.Sub(g.clock) < 2*time.Minute {
		t.Fatalf("%d attempts recorded, next at %v after the clock", attempts, until.Sub(g.clock))
	}

	g.clock = until
	g.respond(http.StatusOK)
	for _, id := range ids {
		if dl, _ := g.run(id); dl.Status != store.DeliverySucceeded {
			t.Fatalf("after the pause, delivery %s is %s", id, dl.Status)
		}
	}
	if n := g.hits.Load(); n != 3 {
		t.Fatalf("%d attempts reached the endpoint, want 3", n)
	}
}

// Two attempts of a delivery never carry the same signature: with a backoff
// under a second, the retry still waits for the next whole second, since
// the signed timestamp is in seconds (reliability.md case 46).
func TestDispatcherRetriesInALaterSecond(t *testing.T) {
	g := newRig(t)
	g.clock = g.clock.Add(900 * time.Millisecond)
	g.d.Schedule = Schedule{Attempts: 3, Backoff: []time.Duration{50 * time.Millisecond}}
	g.respond(http.StatusInternalServerError)
	dl, _ := g.run(g.enqueue().ID)
	if want := g.clock.Truncate(time.Second).Add(time.Second); dl.Status != store.DeliveryPending || !dl.NextAttemptAt.Equal(want) {
		t.Fatalf("%s, next attempt at %v, want %v", dl.Status, dl.NextAttemptAt, want)
	}
}
