package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookguard/hookguard/module/store"
)

// Retention is the event retention the outbound suite uses unless a test
// says otherwise.
const Retention = 30 * 24 * time.Hour

// RunOutbound runs the conformance suite of the Outbound interface against
// the backend that open creates, under the same rules as Run: each subtest
// opens a new, empty store in parallel with the others, reading the clock
// it is handed, with Close registered on t.Cleanup and idempotent.
func RunOutbound(t *testing.T, open func(t *testing.T, now func() time.Time) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store, clk *Clock)
	}{
		{"endpoint_put_get_list", testEndpointPutGetList},
		{"endpoint_update", testEndpointUpdate},
		{"endpoint_concurrent_updates_lose_nothing", testEndpointConcurrentUpdates},
		{"create_then_get_event", testCreateGetEvent},
		{"event_id_reuse_is_refused", testEventIDReuse},
		{"idempotency_key_returns_first_event", testIdempotentCreate},
		{"concurrent_idempotent_create_has_one_winner", testConcurrentIdempotentCreate},
		{"idempotency_key_expires_with_retention", testIdempotencyExpires},
		{"events_expire_after_retention", testEventsExpire},
		{"zero_deliveries", testZeroDeliveries},
		{"list_events_newest_first_with_cursor", testListPagination},
		{"list_events_filters", testListFilters},
		{"claim_waits_for_next_attempt", testClaimNotDue},
		{"claim_respects_limit_and_due_order", testClaimLimit},
		{"lease_is_exclusive_until_it_lapses", testLeaseExclusive},
		{"owner_extends_lease_by_update", testLeaseExtension},
		{"event_created_leased_waits_for_its_lease", testCreateLeased},
		{"concurrent_claims_hand_out_each_delivery_once", testConcurrentClaims},
		{"workers_racing_intake_deliver_each_once", testDispatcherLoop},
		{"succeeded_leaves_queue_forever", testSucceededLeavesQueue},
		{"retry_requeues_at_next_attempt", testRetryRequeues},
		{"final_states_are_never_claimed", testFinalNeverClaimed},
		{"operator_retry_is_kept_through_a_claim", testOperatorRetryKept},
		{"operator_retry", testOperatorRetry},
		{"update_delivery_ownership", testUpdateOwnership},
		{"queue_depth", testQueueDepth},
		{"outbound_invalid_arguments_write_nothing", testOutboundInvalidArguments},
		{"outbound_cancelled_context", testOutboundCancelledContext},
		{"outbound_closed_store", testOutboundClosed},
		{"dedupe_and_outbound_share_a_store", testDedupeAndOutbound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := NewClock(Start)
			tt.run(t, open(t, clk.Now), clk)
		})
	}
}

func testEndpointPutGetList(t *testing.T, s store.Store, clk *Clock) {
	if eps, err := s.ListEndpoints(ctx()); err != nil || len(eps) != 0 {
		t.Fatalf("ListEndpoints on an empty store = (%v, %v), want none", eps, err)
	}
	full := store.Endpoint{
		ID:         "we_b",
		Name:       "billing",
		URL:        "https://example.com/hooks?x=1&y=<2>",
		EventTypes: []string{"invoice.paid", "invoice.failed"},
		Scheme:     "standard",
		Secrets: []store.EndpointSecret{
			{Value: "whsec_new", CreatedAt: Start},
			{Value: "whsec_old", CreatedAt: Start.Add(-time.Hour), ExpiresAt: Start.Add(23 * time.Hour)},
		},
		Headers:        map[string]string{"X-Tenant": "acme", "X-Empty": ""},
		Status:         store.EndpointDisabled,
		DisabledReason: "410 Gone",
		Static:         true,
		CreatedAt:      Start.Add(-time.Hour),
		UpdatedAt:      Start,
		Health: store.Health{
			LastAttemptAt:       Start.Add(-time.Minute),
			LastStatus:          store.DeliveryFailed,
			LastResponseStatus:  410,
			LastError:           "gone",
			ConsecutiveFailures: 7,
			FailingSince:        Start.Add(-48 * time.Hour),
		},
	}
	eps := []store.Endpoint{full, endpoint("we_a"), endpoint("we_c")}
	for _, e := range eps {
		mustOK(t, s.PutEndpoint(ctx(), e))
	}
	for _, e := range eps {
		got, err := s.GetEndpoint(ctx(), e.ID)
		mustOK(t, err)
		sameJSON(t, "GetEndpoint("+e.ID+")", got, e)
	}
	got, err := s.ListEndpoints(ctx())
	mustOK(t, err)
	sameJSON(t, "ListEndpoints", got, []store.Endpoint{eps[1], eps[0], eps[2]})

	if _, err := s.GetEndpoint(ctx(), "we_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEndpoint(unknown) = %v, want ErrNotFound", err)
	}
	// Put replaces.
	replaced := endpoint("we_a")
	replaced.URL = "https://example.org/new"
	replaced.Status = store.EndpointDeleted
	mustOK(t, s.PutEndpoint(ctx(), replaced))
	e, err := s.GetEndpoint(ctx(), "we_a")
	mustOK(t, err)
	sameJSON(t, "replaced endpoint", e, replaced)
	if got, _ := s.ListEndpoints(ctx()); len(got) != 3 {
		t.Fatalf("ListEndpoints after a replace: %d endpoints, want 3 (deleted ones included)", len(got))
	}
}

func testEndpointUpdate(t *testing.T, s store.Store, clk *Clock) {
	orig := endpoint("we_a")
	mustOK(t, s.PutEndpoint(ctx(), orig))
	got, err := s.UpdateEndpoint(ctx(), "we_a", func(e *store.Endpoint) error {
		e.Status = store.EndpointDisabled
		e.DisabledReason = "failing for 5 days"
		e.Health.ConsecutiveFailures = 3
		return nil
	})
	mustOK(t, err)
	want := orig
	want.Status, want.DisabledReason, want.Health.ConsecutiveFailures = store.EndpointDisabled, "failing for 5 days", 3
	sameJSON(t, "UpdateEndpoint result", got, want)
	stored, err := s.GetEndpoint(ctx(), "we_a")
	mustOK(t, err)
	sameJSON(t, "updated endpoint", stored, want)

	boom := errors.New("boom")
	_, err = s.UpdateEndpoint(ctx(), "we_a", func(e *store.Endpoint) error {
		e.URL = "https://evil.example"
		e.Health.ConsecutiveFailures = 99
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateEndpoint with a failing fn = %v, want its error", err)
	}
	stored, err = s.GetEndpoint(ctx(), "we_a")
	mustOK(t, err)
	sameJSON(t, "endpoint after a failed update", stored, want)

	called := false
	_, err = s.UpdateEndpoint(ctx(), "we_missing", func(e *store.Endpoint) error { called = true; return nil })
	if !errors.Is(err, store.ErrNotFound) || called {
		t.Fatalf("UpdateEndpoint(unknown) = %v (fn called: %v), want ErrNotFound without calling fn", err, called)
	}
	if _, err := s.GetEndpoint(ctx(), "we_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateEndpoint(unknown) created it: %v", err)
	}
}

func testEndpointConcurrentUpdates(t *testing.T, s store.Store, clk *Clock) {
	const n = 50
	mustOK(t, s.PutEndpoint(ctx(), endpoint("we_a")))
	counts := make([]int, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			e, err := s.UpdateEndpoint(ctx(), "we_a", func(e *store.Endpoint) error {
				e.Health.ConsecutiveFailures++
				return nil
			})
			counts[i], errs[i] = e.Health.ConsecutiveFailures, err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	e, err := s.GetEndpoint(ctx(), "we_a")
	mustOK(t, err)
	if e.Health.ConsecutiveFailures != n {
		t.Fatalf("ConsecutiveFailures = %d after %d concurrent increments", e.Health.ConsecutiveFailures, n)
	}
	// Each update saw its own increment: the results are 1 to n.
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("updates returned counts %v, want 1 to %d once each", counts, n)
		}
	}
}

func testCreateGetEvent(t *testing.T, s store.Store, clk *Clock) {
	ev := store.Event{
		ID:      "wevt_0001",
		Type:    "invoice.paid",
		Created: Start,
		// Whitespace, key order, escapes and HTML characters must survive
		// byte for byte.
		Data:           json.RawMessage("{ \"z\": 1,\n\t\"a\": \"<\\u00e9> & \\\"q\\\"\", \"n\": 1.50e2 }"),
		Subject:        json.RawMessage(`{"type":"customer","id":"cus_1"}`),
		IdempotencyKey: "key-1",
	}
	d1 := pending(ev, "wdlv_0001", "we_a", Start)
	d1.Attempts = []store.Attempt{{At: Start.Add(-time.Second), Duration: 1500 * time.Millisecond, ResponseStatus: 503, ResponseBody: "busy ✓", Error: ""}}
	d2 := store.Delivery{ID: "wdlv_0002", EventID: ev.ID, EndpointID: "we_b", Status: store.DeliverySkipped, CreatedAt: Start, UpdatedAt: Start}
	want := ev
	want.Data = bytes.Clone(ev.Data)
	gotEv, gotDs, created, err := s.CreateEvent(ctx(), ev, []store.Delivery{d1, d2}, Retention)
	mustOK(t, err)
	if !created {
		t.Fatal("CreateEvent of a new event: created = false")
	}
	assertEvent(t, "CreateEvent result", gotEv, want)
	sameJSON(t, "CreateEvent deliveries", gotDs, []store.Delivery{d1, d2})

	// The caller's buffer is its own once CreateEvent returns.
	ev.Data[0] = 'X'
	got, ds, err := s.GetEvent(ctx(), "wevt_0001")
	mustOK(t, err)
	assertEvent(t, "GetEvent", got, want)
	sameJSON(t, "GetEvent deliveries", ds, []store.Delivery{d1, d2})
	got, err = s.GetEventOnly(ctx(), "wevt_0001")
	mustOK(t, err)
	assertEvent(t, "GetEventOnly", got, want)
	for _, d := range []store.Delivery{d1, d2} {
		got, err := s.GetDelivery(ctx(), d.ID)
		mustOK(t, err)
		sameJSON(t, "GetDelivery("+d.ID+")", got, d)
	}
	if _, _, err := s.GetEvent(ctx(), "wevt_0002"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEvent(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetEventOnly(ctx(), "wevt_0002"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEventOnly(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetDelivery(ctx(), "wdlv_0003"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetDelivery(unknown) = %v, want ErrNotFound", err)
	}
	// IDs are matched whole, never by prefix.
	if _, _, err := s.GetEvent(ctx(), "wevt_000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEvent(prefix of an ID) = %v, want ErrNotFound", err)
	}
}

func testEventIDReuse(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	mustCreate(t, s, ev, pending(ev, "wdlv_0001", "we_a", Start))
	again := event("wevt_0001", "b", Start)
	if _, _, _, err := s.CreateEvent(ctx(), again, []store.Delivery{pending(again, "wdlv_0002", "we_a", Start)}, Retention); err == nil {
		t.Fatal("CreateEvent with an ID in use succeeded")
	}
	other := event("wevt_0002", "b", Start)
	if _, _, _, err := s.CreateEvent(ctx(), other, []store.Delivery{pending(other, "wdlv_0001", "we_a", Start)}, Retention); err == nil {
		t.Fatal("CreateEvent with a delivery ID in use succeeded")
	}
	got, ds, err := s.GetEvent(ctx(), "wevt_0001")
	mustOK(t, err)
	if got.Type != "a" || len(ds) != 1 || ds[0].EventID != "wevt_0001" {
		t.Fatalf("after refused reuses: %+v %+v, want the first event untouched", got, ds)
	}
	assertIDs(t, "ListEvents", listIDs(t, s, store.EventFilter{}), "wevt_0001")
	assertDepth(t, s, Start, 1, 0)
}

func testIdempotentCreate(t *testing.T, s store.Store, clk *Clock) {
	first := event("wevt_0001", "a", Start)
	first.IdempotencyKey = "k"
	firstDs := []store.Delivery{pending(first, "wdlv_0001", "we_a", Start), pending(first, "wdlv_0002", "we_b", Start)}
	mustCreate(t, s, first, firstDs...)

	clk.Advance(time.Minute)
	second := event("wevt_0002", "b", clk.Now())
	second.IdempotencyKey = "k"
	got, gotDs, created, err := s.CreateEvent(ctx(), second, []store.Delivery{pending(second, "wdlv_0003", "we_a", clk.Now())}, Retention)
	mustOK(t, err)
	if created {
		t.Fatal("second CreateEvent with the same key: created = true")
	}
	assertEvent(t, "second CreateEvent", got, first)
	sameJSON(t, "second CreateEvent deliveries", gotDs, firstDs)

	if _, _, err := s.GetEvent(ctx(), "wevt_0002"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the duplicate event was stored: %v", err)
	}
	if _, err := s.GetDelivery(ctx(), "wdlv_0003"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the duplicate's delivery was stored: %v", err)
	}
	assertDepth(t, s, clk.Now(), 2, 0)
	assertClaimed(t, mustClaim(t, s, clk.Now().Add(time.Hour), 10, "w"), "wdlv_0001", "wdlv_0002")

	// A different key is a different event.
	third := event("wevt_0003", "a", clk.Now())
	third.IdempotencyKey = "k2"
	mustCreate(t, s, third)
	assertIDs(t, "ListEvents", listIDs(t, s, store.EventFilter{}), "wevt_0003", "wevt_0001")
}

func testConcurrentIdempotentCreate(t *testing.T, s store.Store, clk *Clock) {
	const n = 20
	type result struct {
		ev      store.Event
		ds      []store.Delivery
		created bool
		err     error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ev := event(fmt.Sprintf("wevt_%04d", i), "a", Start)
			ev.IdempotencyKey = "same"
			d := pending(ev, fmt.Sprintf("wdlv_%04d", i), "we_a", Start)
			<-start
			r := &results[i]
			r.ev, r.ds, r.created, r.err = s.CreateEvent(ctx(), ev, []store.Delivery{d}, Retention)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, r := range results {
		mustOK(t, r.err)
		if r.created {
			if winner >= 0 {
				t.Fatalf("calls %d and %d both created", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no call created the event")
	}
	w := results[winner]
	for i, r := range results {
		if r.ev.ID != w.ev.ID || len(r.ds) != 1 || r.ds[0].ID != w.ds[0].ID {
			t.Fatalf("call %d returned %s %+v, want the winner's %s %+v", i, r.ev.ID, r.ds, w.ev.ID, w.ds)
		}
	}
	assertIDs(t, "ListEvents", listIDs(t, s, store.EventFilter{}), w.ev.ID)
	assertDepth(t, s, Start, 1, 0)
}

func testIdempotencyExpires(t *testing.T, s store.Store, clk *Clock) {
	const retention = time.Hour
	create := func(id string) (store.Event, bool) {
		t.Helper()
		ev := event(id, "a", clk.Now())
		ev.IdempotencyKey = "k"
		got, _, created, err := s.CreateEvent(ctx(), ev, nil, retention)
		mustOK(t, err)
		return got, created
	}
	if _, created := create("wevt_0001"); !created {
		t.Fatal("first create: created = false")
	}
	clk.Advance(retention - time.Millisecond)
	if got, created := create("wevt_0002"); created || got.ID != "wevt_0001" {
		t.Fatalf("create just before retention ends = (%s, %v), want (wevt_0001, false)", got.ID, created)
	}
	clk.Advance(time.Millisecond)
	if got, created := create("wevt_0003"); !created || got.ID != "wevt_0003" {
		t.Fatalf("create once retention has ended = (%s, %v), want (wevt_0003, true)", got.ID, created)
	}
	if _, _, err := s.GetEvent(ctx(), "wevt_0001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEvent of the expired event = %v, want ErrNotFound", err)
	}
	clk.Advance(time.Minute)
	if got, created := create("wevt_0004"); created || got.ID != "wevt_0003" {
		t.Fatalf("create with the renewed key = (%s, %v), want (wevt_0003, false)", got.ID, created)
	}
}

func testEventsExpire(t *testing.T, s store.Store, clk *Clock) {
	old := event("wevt_0001", "a", Start)
	oldDs := []store.Delivery{pending(old, "wdlv_0001", "we_a", Start), pending(old, "wdlv_0002", "we_a", Start.Add(10*time.Minute))}
	if _, _, _, err := s.CreateEvent(ctx(), old, oldDs, time.Hour); err != nil {
		t.Fatal(err)
	}
	young := event("wevt_0002", "a", Start)
	if _, _, _, err := s.CreateEvent(ctx(), young, []store.Delivery{pending(young, "wdlv_0003", "we_a", Start.Add(time.Hour))}, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour - time.Millisecond)
	if _, ds, err := s.GetEvent(ctx(), "wevt_0001"); err != nil || len(ds) != 2 {
		t.Fatalf("GetEvent just before retention ends = (%d deliveries, %v)", len(ds), err)
	}
	clk.Advance(time.Millisecond)
	now := clk.Now()
	if _, _, err := s.GetEvent(ctx(), "wevt_0001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEvent after retention = %v, want ErrNotFound", err)
	}
	if _, err := s.GetEventOnly(ctx(), "wevt_0001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEventOnly after retention = %v, want ErrNotFound", err)
	}
	for _, id := range []string{"wdlv_0001", "wdlv_0002"} {
		if _, err := s.GetDelivery(ctx(), id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetDelivery(%s) after retention = %v, want ErrNotFound", id, err)
		}
	}
	d := oldDs[0]
	d.Status = store.DeliveryFailed
	if err := s.UpdateDelivery(ctx(), d, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateDelivery after retention = %v, want ErrNotFound", err)
	}
	assertIDs(t, "ListEvents", listIDs(t, s, store.EventFilter{}), "wevt_0002")
	assertIDs(t, "ListEvents pending", listIDs(t, s, store.EventFilter{Status: store.DeliveryPending}), "wevt_0002")
	assertDepth(t, s, now, 1, 0)
	assertClaimed(t, mustClaim(t, s, now, 10, "w"), "wdlv_0003")
	assertDepth(t, s, now, 0, 0)
	// Still kept: the young event's own retention has not ended.
	if _, _, err := s.GetEvent(ctx(), "wevt_0002"); err != nil {
		t.Fatal(err)
	}
}

func testZeroDeliveries(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "nobody.listens", Start)
	got, ds, created, err := s.CreateEvent(ctx(), ev, nil, Retention)
	mustOK(t, err)
	if !created || got.ID != ev.ID || len(ds) != 0 {
		t.Fatalf("CreateEvent with no deliveries = (%s, %d deliveries, %v)", got.ID, len(ds), created)
	}
	got, ds, err = s.GetEvent(ctx(), ev.ID)
	mustOK(t, err)
	assertEvent(t, "GetEvent", got, ev)
	if len(ds) != 0 {
		t.Fatalf("GetEvent: %d deliveries, want none", len(ds))
	}
	assertIDs(t, "ListEvents", listIDs(t, s, store.EventFilter{}), ev.ID)
	assertDepth(t, s, Start.Add(time.Hour), 0, 0)
	assertClaimed(t, mustClaim(t, s, Start.Add(time.Hour), 10, "w"))
}

func testListPagination(t *testing.T, s store.Store, clk *Clock) {
	var all []string
	for i := 1; i <= 25; i++ {
		ev := event(fmt.Sprintf("wevt_%04d", i), "a", clk.Now())
		mustCreate(t, s, ev)
		all = append(all, ev.ID)
		clk.Advance(time.Second)
	}
	slices.Reverse(all) // newest first
	assertIDs(t, "default limit", listIDs(t, s, store.EventFilter{}), all...)
	var pages [][]string
	after := ""
	for range 5 {
		page := listIDs(t, s, store.EventFilter{Limit: 10, After: after})
		if len(page) == 0 {
			break
		}
		pages = append(pages, page)
		after = page[len(page)-1]
	}
	if len(pages) != 3 {
		t.Fatalf("pages %v, want 3", pages)
	}
	assertIDs(t, "page 1", pages[0], all[:10]...)
	assertIDs(t, "page 2", pages[1], all[10:20]...)
	assertIDs(t, "page 3", pages[2], all[20:]...)
	assertIDs(t, "limit 1", listIDs(t, s, store.EventFilter{Limit: 1}), "wevt_0025")
	// A cursor need not name a kept event: it is a position in the order.
	assertIDs(t, "cursor between IDs", listIDs(t, s, store.EventFilter{Limit: 3, After: "wevt_0010x"}), "wevt_0010", "wevt_0009", "wevt_0008")
	assertIDs(t, "cursor after the newest", listIDs(t, s, store.EventFilter{Limit: 2, After: "wevt_9999"}), "wevt_0025", "wevt_0024")
	assertIDs(t, "cursor before the oldest", listIDs(t, s, store.EventFilter{After: "wevt_0000"}))
	for _, limit := range []int{-1, 201} {
		if _, err := s.ListEvents(ctx(), store.EventFilter{Limit: limit}); err == nil {
			t.Errorf("ListEvents with limit %d succeeded", limit)
		}
	}
	if evs, err := s.ListEvents(ctx(), store.EventFilter{Limit: 200}); err != nil || len(evs) != 25 {
		t.Fatalf("ListEvents limit 200 = (%d events, %v), want 25", len(evs), err)
	}
}

func testListFilters(t *testing.T, s store.Store, clk *Clock) {
	later := Start.Add(time.Hour)
	e1 := event("wevt_0001", "a", Start)
	mustCreate(t, s, e1, pending(e1, "wdlv_0001", "we_1", later), skipped(e1, "wdlv_0002", "we_2"))
	e2 := event("wevt_0002", "b", Start)
	mustCreate(t, s, e2, pending(e2, "wdlv_0003", "we_1", Start))
	e3 := event("wevt_0003", "a", Start)
	mustCreate(t, s, e3, pending(e3, "wdlv_0004", "we_2", later))
	e4 := event("wevt_0004", "b", Start)
	mustCreate(t, s, e4)
	// Statuses are read as they are now, not as they were created.
	ds := mustClaim(t, s, Start, 10, "w")
	assertClaimed(t, ds, "wdlv_0003")
	d := ds[0]
	d.Status, d.LeaseToken, d.LeaseUntil = store.DeliverySucceeded, "", time.Time{}
	mustOK(t, s.UpdateDelivery(ctx(), d, "w"))

	for _, tc := range []struct {
		f    store.EventFilter
		want []string
	}{
		{store.EventFilter{Type: "a"}, []string{"wevt_0003", "wevt_0001"}},
		{store.EventFilter{Type: "b"}, []string{"wevt_0004", "wevt_0002"}},
		{store.EventFilter{Type: "c"}, nil},
		{store.EventFilter{EndpointID: "we_1"}, []string{"wevt_0002", "wevt_0001"}},
		{store.EventFilter{EndpointID: "we_2"}, []string{"wevt_0003", "wevt_0001"}},
		{store.EventFilter{EndpointID: "we_3"}, nil},
		{store.EventFilter{Status: store.DeliverySkipped}, []string{"wevt_0001"}},
		{store.EventFilter{Status: store.DeliverySucceeded}, []string{"wevt_0002"}},
		{store.EventFilter{Status: store.DeliveryPending}, []string{"wevt_0003", "wevt_0001"}},
		{store.EventFilter{Status: store.DeliveryFailed}, nil},
		// One delivery must match both: e1's we_2 delivery is skipped.
		{store.EventFilter{EndpointID: "we_2", Status: store.DeliveryPending}, []string{"wevt_0003"}},
		{store.EventFilter{EndpointID: "we_1", Status: store.DeliveryPending}, []string{"wevt_0001"}},
		{store.EventFilter{Type: "a", EndpointID: "we_1"}, []string{"wevt_0001"}},
		{store.EventFilter{Type: "b", Status: store.DeliverySucceeded}, []string{"wevt_0002"}},
		{store.EventFilter{Type: "b", Limit: 1}, []string{"wevt_0004"}},
		{store.EventFilter{Type: "b", Limit: 1, After: "wevt_0004"}, []string{"wevt_0002"}},
		{store.EventFilter{Type: "a", After: "wevt_0003"}, []string{"wevt_0001"}},
	} {
		assertIDs(t, fmt.Sprintf("ListEvents(%+v)", tc.f), listIDs(t, s, tc.f), tc.want...)
	}
	if _, err := s.ListEvents(ctx(), store.EventFilter{Status: "bogus"}); err == nil {
		t.Error("ListEvents with an unknown status succeeded")
	}
}

func testClaimNotDue(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	d := pending(ev, "wdlv_0001", "we_a", Start.Add(time.Minute))
	d.Attempts = []store.Attempt{{At: Start, Duration: time.Second, Error: "connection refused"}}
	mustCreate(t, s, ev, d)
	assertClaimed(t, mustClaim(t, s, Start, 10, "a"))
	assertClaimed(t, mustClaim(t, s, Start.Add(time.Minute-time.Nanosecond), 10, "a"))

	clk.Advance(time.Minute)
	now := clk.Now()
	got := mustClaim(t, s, now, 10, "a")
	assertClaimed(t, got, d.ID)
	want := d
	want.Status, want.LeaseToken, want.LeaseUntil, want.UpdatedAt = store.DeliveryDelivering, "a", now.Add(Lease), now
	sameJSON(t, "claimed delivery", got[0], want)
	stored, err := s.GetDelivery(ctx(), d.ID)
	mustOK(t, err)
	sameJSON(t, "stored claimed delivery", stored, want)
	_, ds, err := s.GetEvent(ctx(), ev.ID)
	mustOK(t, err)
	sameJSON(t, "GetEvent after the claim", ds, []store.Delivery{want})
}

func testClaimLimit(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	// IDs and due times in different orders: the queue follows due times.
	var ds []store.Delivery
	for i, ago := range []int{3, 5, 1, 4, 2} {
		ds = append(ds, pending(ev, fmt.Sprintf("wdlv_%04d", i), "we_a", Start.Add(-time.Duration(ago)*time.Second)))
	}
	mustCreate(t, s, ev, ds...)
	assertClaimed(t, mustClaim(t, s, Start, 2, "a"), "wdlv_0001", "wdlv_0003")
	assertClaimed(t, mustClaim(t, s, Start, 2, "b"), "wdlv_0000", "wdlv_0004")
	assertClaimed(t, mustClaim(t, s, Start, 2, "c"), "wdlv_0002")
	assertClaimed(t, mustClaim(t, s, Start, 2, "d"))
}

// testLeaseExclusive is case 49: a worker that dies mid-delivery leaves its
// lease, which lapses; another worker then takes the delivery over, and the
// dead one's late write is refused.
func testLeaseExclusive(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	mustCreate(t, s, ev, pending(ev, "wdlv_0001", "we_a", Start))
	a := mustClaim(t, s, Start, 10, "a")
	assertClaimed(t, a, "wdlv_0001")
	assertClaimed(t, mustClaim(t, s, Start, 10, "b"))
	assertClaimed(t, mustClaim(t, s, Start.Add(Lease-time.Nanosecond), 10, "b"))
	assertDepth(t, s, Start.Add(Lease-time.Nanosecond), 0, 0)

	clk.Advance(Lease)
	now := clk.Now()
	assertDepth(t, s, now, 1, 0)
	b := mustClaim(t, s, now, 10, "b")
	assertClaimed(t, b, "wdlv_0001")
	if b[0].LeaseToken != "b" || !b[0].LeaseUntil.Equal(now.Add(Lease)) {
		t.Fatalf("retaken delivery: token %q until %v, want b until %v", b[0].LeaseToken, b[0].LeaseUntil, now.Add(Lease))
	}
	late := a[0]
	late.Status, late.LeaseToken, late.LeaseUntil = store.DeliverySucceeded, "", time.Time{}
	assertNotOwner(t, s.UpdateDelivery(ctx(), late, "a"))
	stored, err := s.GetDelivery(ctx(), "wdlv_0001")
	mustOK(t, err)
	sameJSON(t, "delivery after the stale write", stored, b[0])

	done := b[0]
	done.Status, done.LeaseToken, done.LeaseUntil = store.DeliverySucceeded, "", time.Time{}
	mustOK(t, s.UpdateDelivery(ctx(), done, "b"))
	// Never double-acked: neither token holds it any more.
	assertNotOwner(t, s.UpdateDelivery(ctx(), done, "b"))
	assertClaimed(t, mustClaim(t, s, now.Add(24*time.Hour), 10, "c"))
}

// testCreateLeased: a delivery stored already leased, as the intake hands
// it to an idle worker, is held like a claimed one: no claim takes it
// before the lease lapses, its token settles it, and if the holder dies
// it is claimed once the lease lapses.
func testCreateLeased(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	held := pending(ev, "wdlv_0001", "we_a", Start)
	held.Status, held.LeaseToken, held.LeaseUntil = store.DeliveryDelivering, "a", Start.Add(Lease)
	lost := held
	lost.ID, lost.LeaseToken = "wdlv_0002", "b"
	mustCreate(t, s, ev, held, pending(ev, "wdlv_0003", "we_b", Start), lost)
	claimed := mustClaim(t, s, Start, 10, "c")
	assertClaimed(t, claimed, "wdlv_0003")
	assertClaimed(t, mustClaim(t, s, Start.Add(Lease-time.Nanosecond), 10, "c"))

	for _, d := range []store.Delivery{held, claimed[0]} {
		token := d.LeaseToken
		d.Status, d.LeaseToken, d.LeaseUntil = store.DeliverySucceeded, "", time.Time{}
		assertNotOwner(t, s.UpdateDelivery(ctx(), d, "b"))
		mustOK(t, s.UpdateDelivery(ctx(), d, token))
	}

	clk.Advance(Lease)
	assertClaimed(t, mustClaim(t, s, clk.Now(), 10, "d"), "wdlv_0002")
}

func testLeaseExtension(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	mustCreate(t, s, ev, pending(ev, "wdlv_0001", "we_a", Start))
	d := mustClaim(t, s, Start, 1, "a")[0]
	clk.Advance(Lease / 2)
	d.LeaseUntil = clk.Now().Add(Lease)
	mustOK(t, s.UpdateDelivery(ctx(), d, "a"))
	// The original lease's end no longer frees it.
	assertClaimed(t, mustClaim(t, s, Start.Add(Lease), 1, "b"))
	clk.Advance(Lease / 2)
	mustOK(t, s.UpdateDelivery(ctx(), d, "a"))
	assertClaimed(t, mustClaim(t, s, d.LeaseUntil, 1, "b"), "wdlv_0001")
}

func testConcurrentClaims(t *testing.T, s store.Store, clk *Clock) {
	const events, perEvent, workers = 10, 10, 10
	for e := range events {
		ev := event(fmt.Sprintf("wevt_%04d", e), "a", Start)
		var ds []store.Delivery
		for i := range perEvent {
			ds = append(ds, pending(ev, fmt.Sprintf("wdlv_%02d%02d", e, i), fmt.Sprintf("we_%d", i), Start.Add(-time.Duration(i)*time.Millisecond)))
		}
		mustCreate(t, s, ev, ds...)
	}
	claimed := make([][]store.Delivery, workers)
	errs := make([]error, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			token := fmt.Sprintf("worker-%d", w)
			<-start
			for {
				ds, err := s.ClaimDue(ctx(), Start, 7, token, Lease)
				if err != nil {
					errs[w] = err
					return
				}
				if len(ds) == 0 {
					return
				}
				claimed[w] = append(claimed[w], ds...)
			}
		})
	}
	close(start)
	wg.Wait()
	owner := map[string]string{}
	for w, ds := range claimed {
		mustOK(t, errs[w])
		token := fmt.Sprintf("worker-%d", w)
		for _, d := range ds {
			if prev, dup := owner[d.ID]; dup {
				t.Fatalf("%s claimed by %s and %s", d.ID, prev, token)
			}
			if d.LeaseToken != token || d.Status != store.DeliveryDelivering {
				t.Fatalf("%s returned to %s with token %q, status %s", d.ID, token, d.LeaseToken, d.Status)
			}
			owner[d.ID] = token
		}
	}
	if len(owner) != events*perEvent {
		t.Fatalf("%d deliveries claimed, want %d", len(owner), events*perEvent)
	}
	assertClaimed(t, mustClaim(t, s, Start, 1000, "late"))
	for id, token := range owner {
		d, err := s.GetDelivery(ctx(), id)
		mustOK(t, err)
		if d.LeaseToken != token {
			t.Fatalf("%s stored with token %q, but %s was told it holds it", id, d.LeaseToken, token)
		}
	}
}

// testDispatcherLoop runs workers that claim and finish deliveries while
// events are still being accepted: each delivery succeeds exactly once,
// and no holder is ever refused.
func testDispatcherLoop(t *testing.T, s store.Store, clk *Clock) {
	const events, workers = 40, 4
	var succeeded sync.Map
	var done atomic.Int32
	errs := make(chan error, workers+1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range events {
			ev := event(fmt.Sprintf("wevt_%04d", i), "a", Start)
			d := pending(ev, fmt.Sprintf("wdlv_%04d", i), "we_a", Start)
			if _, _, _, err := s.CreateEvent(ctx(), ev, []store.Delivery{d}, Retention); err != nil {
				errs <- err
				return
			}
		}
	})
	for w := range workers {
		wg.Go(func() {
			token := fmt.Sprintf("worker-%d", w)
			for done.Load() < events {
				ds, err := s.ClaimDue(ctx(), Start, 3, token, time.Hour)
				if err != nil {
					errs <- err
					return
				}
				if len(ds) == 0 {
					runtime.Gosched()
					continue
				}
				for _, d := range ds {
					d.Status, d.LeaseToken, d.LeaseUntil = store.DeliverySucceeded, "", time.Time{}
					d.Attempts = append(d.Attempts, store.Attempt{At: Start, ResponseStatus: 200})
					if err := s.UpdateDelivery(ctx(), d, token); err != nil {
						errs <- fmt.Errorf("%s finishing %s: %w", token, d.ID, err)
						return
					}
					if _, dup := succeeded.LoadOrStore(d.ID, token); dup {
						errs <- fmt.Errorf("%s delivered twice", d.ID)
						return
					}
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := done.Load(); n != events {
		t.Fatalf("%d deliveries succeeded, want %d", n, events)
	}
	assertDepth(t, s, Start.Add(time.Hour), 0, 0)
	assertIDs(t, "succeeded events", listIDs(t, s, store.EventFilter{Status: store.DeliveryPending}))
}

func testSucceededLeavesQueue(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	mustCreate(t, s, ev, pending(ev, "wdlv_0001", "we_a", Start))
	d := mustClaim(t, s, Start, 1, "a")[0]
	clk.Advance(time.Second)
	d.Status, d.LeaseToken, d.LeaseUntil, d.NextAttemptAt = store.DeliverySucceeded, "", time.Time{}, time.Time{}
	d.UpdatedAt = clk.Now()
	d.Attempts = append(d.Attempts, store.Attempt{At: Start, Duration: 800 * time.Millisecond, ResponseStatus: 204})
	mustOK(t, s.UpdateDelivery(ctx(), d, "a"))
	stored, err := s.GetDelivery(ctx(), d.ID)
	mustOK(t, err)
	sameJSON(t, "succeeded delivery", stored, d)
	far := Start.Add(10 * 365 * 24 * time.Hour)
	assertClaimed(t, mustClaim(t, s, far, 10, "b"))
	assertDepth(t, s, far, 0, 0)
}

func testRetryRequeues(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	mustCreate(t, s, ev, pending(ev, "wdlv_0001", "we_a", Start))
	d := mustClaim(t, s, Start, 1, "a")[0]
	next := Start.Add(5 * time.Minute)
	d.Status, d.LeaseToken, d.LeaseUntil, d.NextAttemptAt = store.DeliveryPending, "", time.Time{}, next
	d.Attempts = append(d.Attempts, store.Attempt{At: Start, ResponseStatus: 500, ResponseBody: "oops"})
	mustOK(t, s.UpdateDelivery(ctx(), d, "a"))
	assertDepth(t, s, Start, 0, 1)
	// Neither the old lease's end nor anything before NextAttemptAt frees it.
	assertClaimed(t, mustClaim(t, s, Start.Add(Lease), 10, "b"))
	assertClaimed(t, mustClaim(t, s, next.Add(-time.Nanosecond), 10, "b"))
	assertDepth(t, s, next, 1, 0)
	got := mustClaim(t, s, next, 10, "b")
	assertClaimed(t, got, "wdlv_0001")
	if len(got[0].Attempts) != 1 || got[0].Attempts[0].ResponseBody != "oops" {
		t.Fatalf("requeued delivery lost its attempt: %+v", got[0].Attempts)
	}
	assertClaimed(t, mustClaim(t, s, next, 10, "c"))
}

// An operator's retry of a skipped delivery queues it again, and the
// claim that picks it up keeps when that was asked, which the worker needs
// to tell it from a delivery that waited through its endpoint's disable.
func testOperatorRetryKept(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	mustCreate(t, s, ev, skipped(ev, "wdlv_0001", "we_a"))
	clk.Advance(time.Minute)
	d, err := s.GetDelivery(ctx(), "wdlv_0001")
	mustOK(t, err)
	d.Status, d.NextAttemptAt, d.UpdatedAt, d.RetriedAt = store.DeliveryPending, clk.Now(), clk.Now(), clk.Now()
	mustOK(t, s.UpdateDelivery(ctx(), d, ""))
	got := mustClaim(t, s, clk.Now(), 10, "a")
	assertClaimed(t, got, "wdlv_0001")
	if !got[0].RetriedAt.Equal(clk.Now()) {
		t.Fatalf("claimed delivery's RetriedAt %v, want %v", got[0].RetriedAt, clk.Now())
	}
}

func testFinalNeverClaimed(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	mustCreate(t, s, ev,
		pending(ev, "wdlv_0001", "we_a", Start),
		pending(ev, "wdlv_0002", "we_b", Start),
		skipped(ev, "wdlv_0003", "we_c"))
	ds := mustClaim(t, s, Start, 10, "a")
	assertClaimed(t, ds, "wdlv_0001", "wdlv_0002")
	ds[0].Status, ds[1].Status = store.DeliveryFailed, store.DeliverySucceeded
	for _, d := range ds {
		mustOK(t, s.UpdateDelivery(ctx(), d, "a"))
	}
	// The final records keep their (now lapsing) lease fields as stored,
	// yet a final status is never claimed, not even after the lease.
	far := Start.Add(365 * 24 * time.Hour)
	assertClaimed(t, mustClaim(t, s, far, 10, "b"))
	assertDepth(t, s, far, 0, 0)
}

func testOperatorRetry(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	mustCreate(t, s, ev, pending(ev, "wdlv_0001", "we_a", Start), skipped(ev, "wdlv_0002", "we_b"))
	d := mustClaim(t, s, Start, 1, "a")[0]
	d.Status, d.LeaseToken, d.LeaseUntil = store.DeliveryFailed, "", time.Time{}
	mustOK(t, s.UpdateDelivery(ctx(), d, "a"))

	// The operator retries the failed delivery.
	clk.Advance(time.Hour)
	now := clk.Now()
	d.Status, d.NextAttemptAt, d.UpdatedAt = store.DeliveryPending, now, now
	mustOK(t, s.UpdateDelivery(ctx(), d, ""))
	assertDepth(t, s, now, 1, 0)
	b := mustClaim(t, s, now, 10, "b")
	assertClaimed(t, b, "wdlv_0001")
	// Not while a worker holds it.
	retry := b[0]
	retry.Status, retry.LeaseToken, retry.LeaseUntil, retry.NextAttemptAt = store.DeliveryPending, "", time.Time{}, now
	assertNotOwner(t, s.UpdateDelivery(ctx(), retry, ""))
	// But once the holder's lease has lapsed, yes, whatever its status.
	clk.Advance(Lease)
	now = clk.Now()
	retry.NextAttemptAt = now
	mustOK(t, s.UpdateDelivery(ctx(), retry, ""))
	assertNotOwner(t, s.UpdateDelivery(ctx(), retry, "b"))
	// Exactly one queue entry: it is claimed once.
	assertDepth(t, s, now, 1, 0)
	assertClaimed(t, mustClaim(t, s, now, 10, "c"), "wdlv_0001")
	assertClaimed(t, mustClaim(t, s, now.Add(time.Nanosecond), 10, "d"))

	// A skipped delivery can be retried too.
	sk, err := s.GetDelivery(ctx(), "wdlv_0002")
	mustOK(t, err)
	sk.Status, sk.NextAttemptAt = store.DeliveryPending, now
	mustOK(t, s.UpdateDelivery(ctx(), sk, ""))
	assertClaimed(t, mustClaim(t, s, now, 10, "e"), "wdlv_0002")
}

func testUpdateOwnership(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	orig := pending(ev, "wdlv_0001", "we_a", Start)
	mustCreate(t, s, ev, orig)
	// A token on a delivery nobody holds.
	assertNotOwner(t, s.UpdateDelivery(ctx(), orig, "a"))
	d := mustClaim(t, s, Start, 1, "a")[0]
	changed := d
	changed.Status = store.DeliveryFailed
	assertNotOwner(t, s.UpdateDelivery(ctx(), changed, "b"))
	assertNotOwner(t, s.UpdateDelivery(ctx(), changed, ""))
	moved := changed
	moved.EndpointID = "we_b"
	if err := s.UpdateDelivery(ctx(), moved, "a"); err == nil || errors.Is(err, store.ErrNotOwner) {
		t.Fatalf("UpdateDelivery moving a delivery to another endpoint = %v, want an argument error", err)
	}
	moved = changed
	moved.EventID = "wevt_0002"
	if err := s.UpdateDelivery(ctx(), moved, "a"); err == nil || errors.Is(err, store.ErrNotOwner) {
		t.Fatalf("UpdateDelivery moving a delivery to another event = %v, want an argument error", err)
	}
	stored, err := s.GetDelivery(ctx(), d.ID)
	mustOK(t, err)
	sameJSON(t, "delivery after refused updates", stored, d)

	unknown := orig
	unknown.ID = "wdlv_0002"
	if err := s.UpdateDelivery(ctx(), unknown, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateDelivery(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.UpdateDelivery(ctx(), unknown, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateDelivery(unknown, token) = %v, want ErrNotFound", err)
	}
	// At LeaseUntil the lease has lapsed, for its holder too.
	clk.Advance(Lease)
	assertNotOwner(t, s.UpdateDelivery(ctx(), changed, "a"))
}

func testQueueDepth(t *testing.T, s store.Store, clk *Clock) {
	assertDepth(t, s, Start, 0, 0)
	ev := event("wevt_0001", "a", Start)
	mustCreate(t, s, ev,
		pending(ev, "wdlv_0001", "we_a", Start.Add(-time.Minute)),    // due
		pending(ev, "wdlv_0002", "we_a", Start),                      // due: not after now
		pending(ev, "wdlv_0003", "we_a", Start.Add(time.Nanosecond)), // scheduled
		pending(ev, "wdlv_0004", "we_a", Start.Add(time.Hour)),       // scheduled
		skipped(ev, "wdlv_0005", "we_a"),                             // not queued
		pending(ev, "wdlv_0006", "we_a", Start.Add(-3*time.Minute)),
		pending(ev, "wdlv_0007", "we_a", Start.Add(-2*time.Minute)),
	)
	// wdlv_0006 is in flight until an hour after Start: not counted.
	// wdlv_0007's lease lapses before Start: due again.
	assertClaimed(t, mustClaimFor(t, s, Start.Add(-3*time.Minute), 1, "a", time.Hour+3*time.Minute), "wdlv_0006")
	assertClaimed(t, mustClaimFor(t, s, Start.Add(-2*time.Minute), 1, "b", Lease), "wdlv_0007")
	assertDepth(t, s, Start, 3, 2)
	assertDepth(t, s, Start.Add(-5*time.Minute), 0, 4)
	assertDepth(t, s, Start.Add(2*time.Hour), 6, 0)
}

func testOutboundInvalidArguments(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	ok := pending(ev, "wdlv_0001", "we_a", Start)
	with := func(f func(d *store.Delivery)) []store.Delivery {
		d := ok
		f(&d)
		return []store.Delivery{d}
	}
	slashed := ev
	slashed.ID = "wevt/0001"
	empty := ev
	empty.ID = ""
	for name, call := range map[string]struct {
		ev        store.Event
		ds        []store.Delivery
		retention time.Duration
	}{
		"empty event ID":          {empty, nil, Retention},
		"slash in event ID":       {slashed, nil, Retention},
		"zero retention":          {ev, nil, 0},
		"negative retention":      {ev, nil, -time.Hour},
		"empty delivery ID":       {ev, with(func(d *store.Delivery) { d.ID = "" }), Retention},
		"slash in delivery ID":    {ev, with(func(d *store.Delivery) { d.ID = "wdlv/1" }), Retention},
		"other event's delivery":  {ev, with(func(d *store.Delivery) { d.EventID = "wevt_0002" }), Retention},
		"no endpoint":             {ev, with(func(d *store.Delivery) { d.EndpointID = "" }), Retention},
		"unknown status":          {ev, with(func(d *store.Delivery) { d.Status = "queued" }), Retention},
		"pending, no next":        {ev, with(func(d *store.Delivery) { d.NextAttemptAt = time.Time{} }), Retention},
		"delivering, no lease":    {ev, with(func(d *store.Delivery) { d.Status = store.DeliveryDelivering }), Retention},
		"duplicate delivery IDs":  {ev, []store.Delivery{ok, ok}, Retention},
		"one bad among good ones": {ev, append(with(func(d *store.Delivery) { d.ID = "wdlv_0002" }), with(func(d *store.Delivery) { d.Status = "" })...), Retention},
	} {
		if _, _, _, err := s.CreateEvent(ctx(), call.ev, call.ds, call.retention); err == nil {
			t.Errorf("CreateEvent with %s succeeded", name)
		}
	}
	for name, err := range map[string]error{
		"ClaimDue empty token": claimErr(s, Start, 10, "", Lease),
		"ClaimDue zero limit":  claimErr(s, Start, 0, "a", Lease),
		"ClaimDue zero lease":  claimErr(s, Start, 10, "a", 0),
		"PutEndpoint empty ID": s.PutEndpoint(ctx(), store.Endpoint{URL: "https://example.com"}),
	} {
		if err == nil {
			t.Errorf("%s succeeded", name)
		}
	}
	// Nothing was written on the way.
	assertIDs(t, "ListEvents", listIDs(t, s, store.EventFilter{}))
	assertDepth(t, s, Start.Add(time.Hour), 0, 0)
	if eps, err := s.ListEndpoints(ctx()); err != nil || len(eps) != 0 {
		t.Fatalf("ListEndpoints = (%v, %v), want none", eps, err)
	}

	mustCreate(t, s, ev, ok)
	for name, d := range map[string]store.Delivery{
		"unknown status":       with(func(d *store.Delivery) { d.Status = "" })[0],
		"pending, no next":     with(func(d *store.Delivery) { d.NextAttemptAt = time.Time{} })[0],
		"delivering, no lease": with(func(d *store.Delivery) { d.Status = store.DeliveryDelivering })[0],
	} {
		if err := s.UpdateDelivery(ctx(), d, ""); err == nil || errors.Is(err, store.ErrNotOwner) {
			t.Errorf("UpdateDelivery with %s = %v, want an argument error", name, err)
		}
	}
	mustOK(t, s.PutEndpoint(ctx(), endpoint("we_a")))
	if _, err := s.UpdateEndpoint(ctx(), "we_a", func(e *store.Endpoint) error { e.ID = "we_b"; return nil }); err == nil {
		t.Error("UpdateEndpoint changing the ID succeeded")
	}
	if _, err := s.GetEndpoint(ctx(), "we_b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateEndpoint changing the ID stored we_b: %v", err)
	}
	stored, err := s.GetDelivery(ctx(), ok.ID)
	mustOK(t, err)
	sameJSON(t, "delivery after refused updates", stored, ok)
}

func testOutboundCancelledContext(t *testing.T, s store.Store, clk *Clock) {
	cancelled, cancel := context.WithCancel(ctx())
	cancel()
	ev := event("wevt_0001", "a", Start)
	d := pending(ev, "wdlv_0001", "we_a", Start)
	_, _, _, createErr := s.CreateEvent(cancelled, ev, []store.Delivery{d}, Retention)
	_, updateErr := s.UpdateEndpoint(cancelled, "we_a", func(*store.Endpoint) error { return nil })
	for name, err := range map[string]error{
		"PutEndpoint":    s.PutEndpoint(cancelled, endpoint("we_a")),
		"UpdateEndpoint": updateErr,
		"CreateEvent":    createErr,
		"ClaimDue":       claimErrCtx(cancelled, s),
		"UpdateDelivery": s.UpdateDelivery(cancelled, d, ""),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
	assertIDs(t, "ListEvents", listIDs(t, s, store.EventFilter{}))
	if _, err := s.GetEndpoint(ctx(), "we_a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutEndpoint with a cancelled context stored it: %v", err)
	}
}

func testOutboundClosed(t *testing.T, s store.Store, clk *Clock) {
	ev := event("wevt_0001", "a", Start)
	d := pending(ev, "wdlv_0001", "we_a", Start)
	mustCreate(t, s, ev, d)
	mustOK(t, s.PutEndpoint(ctx(), endpoint("we_a")))
	mustOK(t, s.Close())
	_, updateErr := s.UpdateEndpoint(ctx(), "we_a", func(*store.Endpoint) error { return nil })
	_, getEpErr := s.GetEndpoint(ctx(), "we_a")
	_, listEpErr := s.ListEndpoints(ctx())
	_, _, _, createErr := s.CreateEvent(ctx(), event("wevt_0002", "a", Start), nil, Retention)
	_, _, getEvErr := s.GetEvent(ctx(), ev.ID)
	_, listEvErr := s.ListEvents(ctx(), store.EventFilter{})
	_, getDlErr := s.GetDelivery(ctx(), d.ID)
	_, _, depthErr := s.QueueDepth(ctx(), Start)
	for name, err := range map[string]error{
		"PutEndpoint":    s.PutEndpoint(ctx(), endpoint("we_b")),
		"UpdateEndpoint": updateErr,
		"GetEndpoint":    getEpErr,
		"ListEndpoints":  listEpErr,
		"CreateEvent":    createErr,
		"GetEvent":       getEvErr,
		"ListEvents":     listEvErr,
		"GetDelivery":    getDlErr,
		"ClaimDue":       claimErr(s, Start, 10, "a", Lease),
		"UpdateDelivery": s.UpdateDelivery(ctx(), d, ""),
		"QueueDepth":     depthErr,
	} {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// testDedupeAndOutbound: the two halves share one store without seeing
// each other's keys.
func testDedupeAndOutbound(t *testing.T, s store.Store, clk *Clock) {
	for _, key := range []string{"wevt_0001", "ev/wevt_0001", "q/", "dl/wdlv_0001", "ep/we_a"} {
		mustReserve(t, s, key, "a", Lease, true)
	}
	ev := event("wevt_0001", "a", Start)
	mustCreate(t, s, ev, pending(ev, "wdlv_0001", "we_a", Start))
	mustOK(t, s.PutEndpoint(ctx(), endpoint("we_a")))
	mustCommit(t, s, "wevt_0001", "a", store.Response{Status: 200}, TTL)
	assertIDs(t, "ListEvents", listIDs(t, s, store.EventFilter{}), "wevt_0001")
	if eps, err := s.ListEndpoints(ctx()); err != nil || len(eps) != 1 {
		t.Fatalf("ListEndpoints = (%d, %v), want 1", len(eps), err)
	}
	assertDepth(t, s, Start, 1, 0)
	assertClaimed(t, mustClaim(t, s, Start, 10, "w"), "wdlv_0001")
	mustReserve(t, s, "ev/wevt_0001", "b", Lease, false)
	mustReserve(t, s, "wdlv_0001", "b", Lease, true)
}

// event returns an event with small, valid JSON data.
func event(id, typ string, created time.Time) store.Event {
	return store.Event{ID: id, Type: typ, Created: created, Data: json.RawMessage(`{"n":"` + id + `"}`)}
}

// pending returns a pending delivery of ev to endpoint, due at due.
func pending(ev store.Event, id, endpoint string, due time.Time) store.Delivery {
	return store.Delivery{
		ID: id, EventID: ev.ID, EndpointID: endpoint, Status: store.DeliveryPending,
		NextAttemptAt: due, CreatedAt: ev.Created, UpdatedAt: ev.Created,
	}
}

// skipped returns a skipped delivery of ev to endpoint.
func skipped(ev store.Event, id, endpoint string) store.Delivery {
	return store.Delivery{
		ID: id, EventID: ev.ID, EndpointID: endpoint, Status: store.DeliverySkipped,
		CreatedAt: ev.Created, UpdatedAt: ev.Created,
	}
}

// endpoint returns an active endpoint with one secret.
func endpoint(id string) store.Endpoint {
	return store.Endpoint{
		ID: id, Name: "name-" + id, URL: "https://example.com/" + id, Scheme: "standard",
		Secrets:   []store.EndpointSecret{{Value: "whsec_" + id, CreatedAt: Start}},
		Status:    store.EndpointActive,
		CreatedAt: Start, UpdatedAt: Start,
	}
}

// mustCreate creates a new event with Retention and checks that it was new.
func mustCreate(t *testing.T, s store.Store, ev store.Event, ds ...store.Delivery) {
	t.Helper()
	_, _, created, err := s.CreateEvent(ctx(), ev, ds, Retention)
	if err != nil {
		t.Fatalf("CreateEvent(%s): %v", ev.ID, err)
	}
	if !created {
		t.Fatalf("CreateEvent(%s): created = false", ev.ID)
	}
}

func mustClaim(t *testing.T, s store.Store, now time.Time, limit int, token string) []store.Delivery {
	t.Helper()
	return mustClaimFor(t, s, now, limit, token, Lease)
}

func mustClaimFor(t *testing.T, s store.Store, now time.Time, limit int, token string, lease time.Duration) []store.Delivery {
	t.Helper()
	ds, err := s.ClaimDue(ctx(), now, limit, token, lease)
	if err != nil {
		t.Fatalf("ClaimDue(%v, %d, %q): %v", now, limit, token, err)
	}
	for _, d := range ds {
		if d.Status != store.DeliveryDelivering || d.LeaseToken != token || !d.LeaseUntil.Equal(now.Add(lease)) {
			t.Fatalf("ClaimDue returned %s as %s, token %q until %v; want delivering, %q until %v",
				d.ID, d.Status, d.LeaseToken, d.LeaseUntil, token, now.Add(lease))
		}
	}
	return ds
}

func claimErr(s store.Store, now time.Time, limit int, token string, lease time.Duration) error {
	_, err := s.ClaimDue(ctx(), now, limit, token, lease)
	return err
}

func claimErrCtx(c context.Context, s store.Store) error {
	_, err := s.ClaimDue(c, Start, 10, "a", Lease)
	return err
}

// assertClaimed checks the IDs of claimed deliveries, in order.
func assertClaimed(t *testing.T, ds []store.Delivery, ids ...string) {
	t.Helper()
	got := make([]string, len(ds))
	for i, d := range ds {
		got[i] = d.ID
	}
	assertIDs(t, "claimed", got, ids...)
}

func assertDepth(t *testing.T, s store.Store, now time.Time, due, scheduled int) {
	t.Helper()
	d, sch, err := s.QueueDepth(ctx(), now)
	if err != nil {
		t.Fatalf("QueueDepth: %v", err)
	}
	if d != due || sch != scheduled {
		t.Fatalf("QueueDepth(%v) = (%d due, %d scheduled), want (%d, %d)", now, d, sch, due, scheduled)
	}
}

func listIDs(t *testing.T, s store.Store, f store.EventFilter) []string {
	t.Helper()
	evs, err := s.ListEvents(ctx(), f)
	if err != nil {
		t.Fatalf("ListEvents(%+v): %v", f, err)
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}

func assertIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

// assertEvent compares events field by field, Data and Subject byte for
// byte.
func assertEvent(t *testing.T, what string, got, want store.Event) {
	t.Helper()
	if !bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Subject, want.Subject) {
		t.Fatalf("%s: data %q subject %q, want %q and %q byte for byte", what, got.Data, got.Subject, want.Data, want.Subject)
	}
	sameJSON(t, what, got, want)
}

// sameJSON compares two values through their JSON form, which is exact for
// these records except that it ignores time zones' names and monotonic
// clock readings (every time in the suite is UTC) and nil against empty.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(g, w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}
