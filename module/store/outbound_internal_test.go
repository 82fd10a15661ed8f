package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// These white-box tests force the write conflicts that the conformance
// suite can only hope for, and look at the keys themselves.

var bg = context.Background()

func testEvent(id string) Event {
	return Event{ID: id, Type: "t", Created: testStart, Data: json.RawMessage(`{"id":"` + id + `"}`)}
}

func testPending(ev Event, id string, due time.Time) Delivery {
	return Delivery{ID: id, EventID: ev.ID, EndpointID: "we_a", Status: DeliveryPending, NextAttemptAt: due}
}

// TestCreateEventRetriesConflict: a CreateEvent that loses the race for its
// idempotency key retries and returns the winner's event, uncreated.
func TestCreateEventRetriesConflict(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	winner := testEvent("wevt_0002")
	winner.IdempotencyKey = "k"
	attempts := 0
	b.beforeCommit = func(op string) {
		if op != "create_event" {
			return
		}
		attempts++
		if attempts == 1 {
			// Runs between the loser's read of the key and its commit.
			if _, _, created, err := b.CreateEvent(bg, winner, []Delivery{testPending(winner, "wdlv_0002", testStart)}, time.Hour); err != nil || !created {
				t.Errorf("winner: created=%v err=%v", created, err)
			}
		}
	}
	loser := testEvent("wevt_0001")
	loser.IdempotencyKey = "k"
	got, ds, created, err := b.CreateEvent(bg, loser, []Delivery{testPending(loser, "wdlv_0001", testStart)}, time.Hour)
	if err != nil || created || got.ID != "wevt_0002" || len(ds) != 1 || ds[0].ID != "wdlv_0002" {
		t.Fatalf("loser = (%s, %+v, %v, %v), want the winner's event, not created", got.ID, ds, created, err)
	}
	if attempts != 2 {
		t.Fatalf("%d commit attempts, want the loser's, the winner's, and no more", attempts)
	}
	assertKeys(t, b, queuePrefix, queueKey(testStart, "wdlv_0002"))
	if _, _, err := b.GetEvent(bg, "wevt_0001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the loser's event was stored: %v", err)
	}
}

// TestClaimDueBoundsBytes: deliveries whose records carry long answers
// are claimed in batches that fit one Badger transaction, never refused
// whole with ErrTxnTooBig.
func TestClaimDueBoundsBytes(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	// 60 KB records: under the value threshold, so they count in full.
	body := strings.Repeat("x", 60<<10)
	const n = 40
	for i := range n {
		ev := testEvent(fmt.Sprintf("wevt_%04d", i))
		d := testPending(ev, fmt.Sprintf("wdlv_%04d", i), testStart)
		d.Attempts = []Attempt{{At: testStart, ResponseStatus: 500, ResponseBody: body}}
		mustCreateInternal(t, b, ev, d)
	}
	claimed := 0
	for round := 0; claimed < n; round++ {
		ds, err := b.ClaimDue(bg, testStart, n, "tok", time.Minute)
		if err != nil {
			t.Fatalf("claim round %d: %v", round, err)
		}
		if len(ds) == 0 || (round == 0 && len(ds) == n) {
			t.Fatalf("claim round %d got %d of the %d left, want some but not all at first", round, len(ds), n-claimed)
		}
		claimed += len(ds)
	}
}

// TestClaimDueRetriesConflict: a claim whose delivery changes under it
// retries on the fresh state, and never overwrites the change.
func TestClaimDueRetriesConflict(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	ev := testEvent("wevt_0001")
	d := testPending(ev, "wdlv_0001", testStart)
	mustCreateInternal(t, b, ev, d)
	attempts := 0
	b.beforeCommit = func(op string) {
		if op != "claim_due" {
			return
		}
		attempts++
		if attempts == 1 {
			skipped := d
			skipped.Status = DeliverySkipped
			if err := b.UpdateDelivery(bg, skipped, ""); err != nil {
				t.Errorf("skipping under the claim: %v", err)
			}
		}
	}
	ds, err := b.ClaimDue(bg, testStart, 10, "a", time.Minute)
	if err != nil || len(ds) != 0 {
		t.Fatalf("ClaimDue = (%+v, %v), want nothing: the delivery was skipped meanwhile", ds, err)
	}
	if attempts != 1 {
		t.Fatalf("%d committing attempts, want 1 (the retry finds nothing to write)", attempts)
	}
	got, err := b.GetDelivery(bg, d.ID)
	if err != nil || got.Status != DeliverySkipped || got.LeaseToken != "" {
		t.Fatalf("delivery = (%+v, %v), want it skipped and unleased", got, err)
	}
	assertKeys(t, b, queuePrefix)
}

// TestUpdateDeliveryRetriesConflict: an update that conflicts with the
// owner's own lease extension retries from the fresh record, and removes the
// queue entry the extension moved, not the one it first read.
func TestUpdateDeliveryRetriesConflict(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	ev := testEvent("wevt_0001")
	mustCreateInternal(t, b, ev, testPending(ev, "wdlv_0001", testStart))
	ds, err := b.ClaimDue(bg, testStart, 1, "a", time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("ClaimDue = (%+v, %v)", ds, err)
	}
	attempts := 0
	b.beforeCommit = func(op string) {
		if op != "update_delivery" {
			return
		}
		attempts++
		if attempts == 1 {
			extended := ds[0]
			extended.LeaseUntil = testStart.Add(time.Hour)
			if err := b.UpdateDelivery(bg, extended, "a"); err != nil {
				t.Errorf("extending under the update: %v", err)
			}
		}
	}
	done := ds[0]
	done.Status, done.LeaseToken, done.LeaseUntil = DeliverySucceeded, "", time.Time{}
	if err := b.UpdateDelivery(bg, done, "a"); err != nil {
		t.Fatal(err)
	}
	if attempts != 3 {
		t.Fatalf("%d attempts, want 3 (first, the extension, the retry)", attempts)
	}
	assertKeys(t, b, queuePrefix)
	if got, err := b.GetDelivery(bg, done.ID); err != nil || got.Status != DeliverySucceeded {
		t.Fatalf("delivery = (%+v, %v), want succeeded", got, err)
	}
}

// TestUpdateEndpointRetriesConflict: fn runs again on a fresh copy, so a
// write it raced is kept.
func TestUpdateEndpointRetriesConflict(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	if err := b.PutEndpoint(bg, Endpoint{ID: "we_a", URL: "https://example.com"}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	b.beforeCommit = func(op string) {
		if op == "update_endpoint" && calls == 1 {
			// A raw write: PutEndpoint would wait for UpdateEndpoint's lock.
			err := b.db.Update(func(txn *badger.Txn) error {
				return txn.Set(endpointKey("we_a"), []byte(`{"id":"we_a","url":"https://example.com","health":{"consecutive_failures":10}}`))
			})
			if err != nil {
				t.Error(err)
			}
		}
	}
	e, err := b.UpdateEndpoint(bg, "we_a", func(e *Endpoint) error {
		calls++
		e.Health.ConsecutiveFailures++
		return nil
	})
	if err != nil || e.Health.ConsecutiveFailures != 11 || calls != 2 {
		t.Fatalf("UpdateEndpoint = (%d failures, %v) after %d calls, want 11 after 2", e.Health.ConsecutiveFailures, err, calls)
	}
}

// TestClaimDueDropsStaleEntries: queue entries that do not match a live
// delivery (absent, final, elsewhere in time, past retention, malformed)
// are removed by ClaimDue and never claimed or counted.
func TestClaimDueDropsStaleEntries(t *testing.T) {
	now := testStart
	b := openInternal(t, t.TempDir(), func() time.Time { return now }, 0)
	live := testEvent("wevt_0001")
	if _, _, _, err := b.CreateEvent(bg, live, []Delivery{
		testPending(live, "wdlv_0001", testStart),
		{ID: "wdlv_0002", EventID: live.ID, EndpointID: "we_a", Status: DeliverySucceeded},
	}, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	short := testEvent("wevt_0002")
	if _, _, _, err := b.CreateEvent(bg, short, []Delivery{testPending(short, "wdlv_0003", testStart.Add(time.Hour))}, time.Minute); err != nil {
		t.Fatal(err)
	}
	future := encodeQueueValue(queuePending, testStart.Add(24*time.Hour))
	err := b.db.Update(func(txn *badger.Txn) error {
		for _, k := range [][]byte{
			queueKey(testStart, "wdlv_gone"),                 // no such delivery
			queueKey(testStart, "wdlv_0002"),                 // succeeded
			queueKey(testStart.Add(-time.Hour), "wdlv_0001"), // not its due time
			[]byte(queuePrefix + "x"),                        // malformed
		} {
			if err := txn.Set(k, future); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now = testStart.Add(2 * time.Hour) // wdlv_0003's event has lapsed
	ds, err := b.ClaimDue(bg, now, 10, "a", time.Minute)
	if err != nil || len(ds) != 1 || ds[0].ID != "wdlv_0001" {
		t.Fatalf("ClaimDue = (%+v, %v), want wdlv_0001 alone", ds, err)
	}
	assertKeys(t, b, queuePrefix, queueKey(now.Add(time.Minute), "wdlv_0001"))
}

// TestListEventsScanLimit: a rare filter stops after listScanLimit events.
func TestListEventsScanLimit(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	b.listScanLimit = 5
	for i := range 10 {
		ev := testEvent(fmt.Sprintf("wevt_%04d", i))
		if i == 0 {
			ev.Type = "rare"
		}
		mustCreateInternal(t, b, ev)
	}
	list := func(f EventFilter) []string {
		t.Helper()
		evs, err := b.ListEvents(bg, f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ev := range evs {
			ids = append(ids, ev.ID)
		}
		return ids
	}
	if got := list(EventFilter{Type: "rare"}); len(got) != 0 {
		t.Fatalf("rare filter over 10 events with a scan limit of 5: %v, want none", got)
	}
	// The cursor skips its own event without counting it.
	if got := list(EventFilter{Type: "rare", After: "wevt_0005"}); !slices.Equal(got, []string{"wevt_0000"}) {
		t.Fatalf("rare filter after wevt_0005: %v, want wevt_0000", got)
	}
	if got := list(EventFilter{Limit: 10}); len(got) != 5 || got[0] != "wevt_0009" {
		t.Fatalf("unfiltered: %v, want the 5 newest", got)
	}
}

// TestOutboundBadgerTTL: every key of an event expires together, retention
// plus the margin from now by the wall clock; updates keep that expiry;
// endpoints do not expire.
func TestOutboundBadgerTTL(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	before := time.Now()
	ev := testEvent("wevt_0001")
	ev.IdempotencyKey = "k"
	mustCreateInternal(t, b, ev, testPending(ev, "wdlv_0001", testStart))
	after := time.Now()
	if err := b.PutEndpoint(bg, Endpoint{ID: "we_a"}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		lo := uint64(before.Add(time.Hour + ttlMargin).Unix())
		hi := uint64(after.Add(time.Hour+ttlMargin).Unix()) + 1
		err := b.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{})
			defer it.Close()
			n := 0
			for it.Rewind(); it.Valid(); it.Next() {
				n++
				k, exp := string(it.Item().Key()), it.Item().ExpiresAt()
				if strings.HasPrefix(k, endpointPrefix) {
					if exp != 0 {
						return fmt.Errorf("%s expires at %d, want never", k, exp)
					}
				} else if exp < lo || exp > hi {
					return fmt.Errorf("%q expires at %d, want %d to %d", k, exp, lo, hi)
				}
			}
			if n != 5 { // ep, ev, dl, idem, q: the event lists its deliveries, so no evdl
				return fmt.Errorf("%d keys, want 5", n)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}
	check("after CreateEvent")
	ds, err := b.ClaimDue(bg, testStart, 1, "a", time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("ClaimDue = (%+v, %v)", ds, err)
	}
	check("after ClaimDue")
	ds[0].Status, ds[0].NextAttemptAt = DeliveryPending, testStart.Add(time.Minute)
	if err := b.UpdateDelivery(bg, ds[0], "a"); err != nil {
		t.Fatal(err)
	}
	check("after UpdateDelivery")
}

// TestLongIdempotencyKey: a key over maxRawIdemKey is stored by its hash and
// still deduplicates, exactly.
func TestLongIdempotencyKey(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	long := strings.Repeat("k", 70000) // over Badger's own key limit
	create := func(id, key string) (string, bool) {
		t.Helper()
		ev := testEvent(id)
		ev.IdempotencyKey = key
		got, _, created, err := b.CreateEvent(bg, ev, nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return got.ID, created
	}
	if _, created := create("wevt_0001", long); !created {
		t.Fatal("first create not created")
	}
	if id, created := create("wevt_0002", long); created || id != "wevt_0001" {
		t.Fatalf("repeat = (%s, %v), want wevt_0001", id, created)
	}
	if _, created := create("wevt_0003", long+"x"); !created {
		t.Fatal("a different long key was deduplicated")
	}
	if _, created := create("wevt_0004", strings.Repeat("k", maxRawIdemKey)); !created {
		t.Fatal("a raw key was deduplicated against a hashed one")
	}
}

func TestEventCodecRoundTrip(t *testing.T) {
	exp := testStart.Add(time.Hour)
	for _, ev := range []Event{
		{ID: "e1", Type: "t", Created: testStart, Data: json.RawMessage("{ \"a\" : \"<\\u00e9>\" }\n"), Subject: json.RawMessage(`{"id":"s"}`), IdempotencyKey: "k"},
		{ID: "e2", Data: json.RawMessage{}, Subject: nil},
		{ID: "e3", Data: nil, Subject: json.RawMessage{}},
		{ID: "e4", Data: []byte{0, 0xff, '"'}},
	} {
		for _, ids := range [][]string{nil, {}, {"wdlv_1", "wdlv_2"}} {
			p, err := encodeEvent(ev, exp, ids)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := decodeEventRecord(p)
			if err != nil {
				t.Fatalf("%s %q: %v", ev.ID, ids, err)
			}
			got, gotExp := rec.Event, rec.Expires
			if !gotExp.Equal(exp) || got.ID != ev.ID || got.Type != ev.Type || !got.Created.Equal(ev.Created) || got.IdempotencyKey != ev.IdempotencyKey ||
				!bytes.Equal(got.Data, ev.Data) || (got.Data == nil) != (ev.Data == nil) ||
				!bytes.Equal(got.Subject, ev.Subject) || (got.Subject == nil) != (ev.Subject == nil) {
				t.Fatalf("round trip: got %+v (expires %v), want %+v", got, gotExp, ev)
			}
			if rec.Listed != (ids != nil) || !slices.Equal(rec.Deliveries, ids) {
				t.Fatalf("%s: listed %v %q, want %q", ev.ID, rec.Listed, rec.Deliveries, ids)
			}
			// Appending to Data must not overwrite Subject.
			if got.Subject != nil {
				_ = append(got.Data, 'X', 'X', 'X', 'X')
				if !bytes.Equal(got.Subject, ev.Subject) {
					t.Fatalf("%s: appending to Data changed Subject to %q", ev.ID, got.Subject)
				}
			}
		}
	}
	valid, _ := encodeEvent(Event{ID: "e", Data: []byte("{}"), Subject: []byte("{}")}, exp, nil)
	listed, _ := encodeEvent(Event{ID: "e", Data: []byte("{}")}, exp, []string{"wdlv_1"})
	bad := bytes.Clone(valid)
	bad[0] = 9
	for name, p := range map[string][]byte{
		"empty":                 nil,
		"unknown format":        bad,
		"truncated":             valid[:len(valid)-1],
		"trailing bytes":        append(bytes.Clone(valid), 0),
		"meta overruns":         {eventFormat, 200},
		"bad meta":              {eventFormat, 2, '{', '{', 0, 0},
		"listed, truncated":     listed[:len(listed)-1],
		"listed, no count":      listed[:len(listed)-len("wdlv_1")-2],
		"listed, count overrun": append(listed[:len(listed)-len("wdlv_1")-2], 200),
		"listed, trailing":      append(bytes.Clone(listed), 0),
	} {
		if _, err := decodeEventRecord(p); !errors.Is(err, errCorruptRecord) {
			t.Errorf("%s: %v, want errCorruptRecord", name, err)
		}
	}
}

// TestEventsStoredWithIndexKeys: an event stored by a build before events
// listed their deliveries (eventFormat, and an evdl/ index key for each
// delivery) still shows its deliveries, in GetEvent and in a ListEvents
// filtered by endpoint and status.
func TestEventsStoredWithIndexKeys(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	exp := testStart.Add(time.Hour)
	ev := testEvent("wevt_0001")
	ds := []Delivery{testPending(ev, "wdlv_0002", testStart), testPending(ev, "wdlv_0001", testStart)}
	ds[1].EndpointID = "we_b"
	err := b.db.Update(func(txn *badger.Txn) error {
		v, err := encodeEvent(ev, exp, nil)
		if err != nil {
			return err
		}
		if err := txn.Set(eventKey(ev.ID), v); err != nil {
			return err
		}
		for _, d := range ds {
			if err := putDelivery(txn, deliveryRecord{Expires: exp, Delivery: d}, 0); err != nil {
				return err
			}
			if err := txn.Set(append(eventDeliveriesPrefix(ev.ID), d.ID...), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := b.GetEvent(bg, ev.ID)
	if err != nil || len(got) != 2 || got[0].ID != "wdlv_0001" || got[1].ID != "wdlv_0002" {
		t.Fatalf("GetEvent = %+v, %v; want both deliveries in ID order", got, err)
	}
	for _, f := range []EventFilter{{EndpointID: "we_b"}, {EndpointID: "we_a", Status: DeliveryPending}} {
		evs, err := b.ListEvents(bg, f)
		if err != nil || len(evs) != 1 || evs[0].ID != ev.ID {
			t.Fatalf("ListEvents(%+v) = %+v, %v", f, evs, err)
		}
	}
	if evs, err := b.ListEvents(bg, EventFilter{EndpointID: "we_c"}); err != nil || len(evs) != 0 {
		t.Fatalf("ListEvents(we_c) = %+v, %v", evs, err)
	}
}

func TestEventCodecReadsJSONFormat(t *testing.T) {
	exp := testStart.Add(time.Hour)
	ev := Event{ID: "e1", Type: "t", Created: testStart.In(time.FixedZone("", 3600)), IdempotencyKey: "k"}
	meta, err := json.Marshal(eventMeta{Expires: exp, Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	p := binary.AppendUvarint([]byte{eventFormatJSON}, uint64(len(meta)))
	p = appendOptionalBytes(append(p, meta...), []byte(`{"a":1}`))
	p = appendOptionalBytes(p, nil)
	got, gotExp, err := decodeEvent(p)
	if err != nil {
		t.Fatal(err)
	}
	want := ev
	want.Data = json.RawMessage(`{"a":1}`)
	if !gotExp.Equal(exp) || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v (expires %v), want %+v", got, gotExp, want)
	}
}

func TestDeliveryCodec(t *testing.T) {
	zone := time.FixedZone("", -7*3600)
	full := deliveryRecord{Expires: testStart.Add(time.Hour), Delivery: Delivery{
		ID: "wdlv_1", EventID: "wevt_1", EndpointID: "we_1", Status: DeliveryDelivering,
		Attempts: []Attempt{
			{At: testStart, Duration: 1500 * time.Millisecond, ResponseStatus: 503, ResponseBody: "busy ✓"},
			{At: testStart.In(zone), Duration: time.Second, Error: "dial: refused"},
		},
		NextAttemptAt: testStart.Add(time.Minute), CreatedAt: testStart, UpdatedAt: testStart.In(zone),
		LeaseToken: "tok", LeaseUntil: testStart.Add(time.Hour), RetriedAt: testStart.Add(time.Second),
	}}
	bare := deliveryRecord{Expires: testStart, Delivery: Delivery{ID: "wdlv_2", Status: DeliverySucceeded}}
	for _, rec := range []deliveryRecord{full, bare} {
		p, err := encodeDeliveryRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		legacy, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range map[string][]byte{"binary": p, "JSON": legacy} {
			got, err := decodeDeliveryRecord(p)
			if err != nil {
				t.Fatalf("%s %s: %v", rec.Delivery.ID, name, err)
			}
			// The JSON form keeps what a caller sees: the instants, their
			// zone offsets, and nil apart from empty.
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(rec)
			if !bytes.Equal(gotJSON, wantJSON) || (got.Delivery.Attempts == nil) != (rec.Delivery.Attempts == nil) {
				t.Fatalf("%s %s round trip:\n got %s\nwant %s", rec.Delivery.ID, name, gotJSON, wantJSON)
			}
		}
		for _, bad := range [][]byte{p[:len(p)-1], append(bytes.Clone(p), 0), {deliveryFormat, 200}} {
			if _, err := decodeDeliveryRecord(bad); !errors.Is(err, errCorruptRecord) {
				t.Errorf("%s: decoding %q = %v, want errCorruptRecord", rec.Delivery.ID, bad, err)
			}
		}
	}

	// A record of an earlier build, in deliveryFormat: no RetriedAt.
	old := full
	old.Delivery.RetriedAt = time.Time{}
	p, err := encodeDeliveryRecord(old)
	if err != nil {
		t.Fatal(err)
	}
	var zero fieldWriter
	zero.time(time.Time{})
	p = append([]byte{deliveryFormat}, p[1:len(p)-len(zero.p)]...)
	got, err := decodeDeliveryRecord(p)
	if err != nil {
		t.Fatal(err)
	}
	if gotJSON, wantJSON := mustJSON(t, got), mustJSON(t, old); !bytes.Equal(gotJSON, wantJSON) {
		t.Fatalf("deliveryFormat record:\n got %s\nwant %s", gotJSON, wantJSON)
	}
	if _, err := decodeDeliveryRecord(append(p, zero.p...)); !errors.Is(err, errCorruptRecord) {
		t.Errorf("a deliveryFormat record with a trailing field = %v, want errCorruptRecord", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	p, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestQueueKeys(t *testing.T) {
	times := []time.Time{time.Unix(0, 0), testStart.Add(-time.Nanosecond), testStart, testStart.Add(time.Nanosecond), testStart.Add(time.Hour)}
	var keys [][]byte
	for i, at := range times {
		k := queueKey(at, fmt.Sprintf("wdlv_%d", len(times)-i)) // IDs against the time order
		due, id, ok := parseQueueKey(k)
		if !ok || due != uint64(at.UnixNano()) || id != fmt.Sprintf("wdlv_%d", len(times)-i) {
			t.Fatalf("parse(queueKey(%v)) = (%d, %q, %v)", at, due, id, ok)
		}
		keys = append(keys, k)
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Fatal("queue keys do not sort by due time")
	}
	if due, _, _ := parseQueueKey(queueKey(time.Unix(-5, 0), "d")); due != 0 {
		t.Fatalf("a time before 1970 parses as %d, want 0", due)
	}
	for _, k := range []string{"q/", "q/12345678/", "q/12345678xd", "x/12345678/d"} {
		if _, _, ok := parseQueueKey([]byte(k)); ok {
			t.Errorf("parseQueueKey(%q) ok", k)
		}
	}
}

func mustCreateInternal(t *testing.T, b *Badger, ev Event, ds ...Delivery) {
	t.Helper()
	if _, _, created, err := b.CreateEvent(bg, ev, ds, time.Hour); err != nil || !created {
		t.Fatalf("CreateEvent(%s): created=%v err=%v", ev.ID, created, err)
	}
}

// assertKeys checks every key under prefix, in order.
func assertKeys(t *testing.T, b *Badger, prefix string, want ...[]byte) {
	t.Helper()
	var got [][]byte
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			got = append(got, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("keys under %q: %q, want %q", prefix, got, want)
	}
}

// TestQueueFloor: ClaimDue starts its scan past the entries earlier claims
// deleted, yet never misses a delivery written below that point later:
// one created due in the past, one an operator retries, and the rest of a
// batch cut short by the claim limit.
func TestQueueFloor(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	ev := testEvent("wevt_0001")
	mustCreateInternal(t, b, ev,
		testPending(ev, "wdlv_0001", testStart), testPending(ev, "wdlv_0002", testStart), testPending(ev, "wdlv_0003", testStart))
	claim := func(limit int) []string {
		t.Helper()
		ds, err := b.ClaimDue(bg, testStart, limit, "tok", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		return ids
	}
	if got := claim(2); !slices.Equal(got, []string{"wdlv_0001", "wdlv_0002"}) {
		t.Fatalf("first claim: %v", got)
	}
	if got := claim(10); !slices.Equal(got, []string{"wdlv_0003"}) {
		t.Fatalf("after the limit cut the batch short: %v, want wdlv_0003", got)
	}
	if f := b.queueFloor.floor; f != queueNanos(testStart) {
		t.Fatalf("floor %d after claiming everything due, want %d", f, queueNanos(testStart))
	}

	// Written below the floor after the scans raised it.
	early := testEvent("wevt_0002")
	mustCreateInternal(t, b, early, testPending(early, "wdlv_0004", testStart.Add(-time.Hour)))
	if got := claim(10); !slices.Equal(got, []string{"wdlv_0004"}) {
		t.Fatalf("created below the floor: claimed %v, want wdlv_0004", got)
	}
	d, err := b.GetDelivery(bg, "wdlv_0001")
	if err != nil {
		t.Fatal(err)
	}
	d.Status, d.NextAttemptAt, d.LeaseToken, d.LeaseUntil = DeliveryPending, testStart.Add(-2*time.Hour), "", time.Time{}
	if err := b.UpdateDelivery(bg, d, "tok"); err != nil {
		t.Fatal(err)
	}
	if got := claim(10); !slices.Equal(got, []string{"wdlv_0001"}) {
		t.Fatalf("retried below the floor: claimed %v, want wdlv_0001", got)
	}
}

// TestQueueFloorSeesWritesItsSnapshotMissed: an event created after a
// claim took its snapshot is invisible to that claim, and must not be
// stranded below the floor the claim raises: the next claim takes it.
func TestQueueFloorSeesWritesItsSnapshotMissed(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	late := testEvent("wevt_0009")
	b.beforeCommit = func(op string) {
		if op == "claim_snapshot" {
			b.beforeCommit = nil
			mustCreateInternal(t, b, late, testPending(late, "wdlv_0009", testStart.Add(-time.Hour)))
		}
	}
	if ds, err := b.ClaimDue(bg, testStart, 10, "tok", time.Minute); err != nil || len(ds) != 0 {
		t.Fatalf("claim with the write after its snapshot = (%v, %v), want nothing", ds, err)
	}
	ds, err := b.ClaimDue(bg, testStart, 10, "tok", time.Minute)
	if err != nil || len(ds) != 1 || ds[0].ID != "wdlv_0009" {
		t.Fatalf("next claim = (%v, %v), want wdlv_0009", ds, err)
	}
}

// TestDurableWritesWaitForSync: CreateEvent and the endpoint writes return
// only after a round of fsyncs that began after their commit, and fail if
// it fails.
func TestDurableWritesWaitForSync(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	b.durable.close()
	var rounds atomic.Int32
	release := make(chan error)
	b.durable = newGroup(func([]struct{}) error { rounds.Add(1); return <-release }, 0)

	done := make(chan error, 1)
	go func() {
		ev := testEvent("wevt_0001")
		_, _, _, err := b.CreateEvent(bg, ev, []Delivery{testPending(ev, "wdlv_0001", testStart)}, time.Hour)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("CreateEvent returned (%v) before its sync", err)
	case <-time.After(100 * time.Millisecond):
	}
	release <- nil
	if err := <-done; err != nil || rounds.Load() != 1 {
		t.Fatalf("CreateEvent after the sync: %v, %d rounds", err, rounds.Load())
	}

	go func() { done <- b.PutEndpoint(bg, Endpoint{ID: "we_a"}) }()
	release <- errors.New("disk on fire")
	if err := <-done; err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("PutEndpoint with a failed sync = %v, want the sync's error", err)
	}
	b.durable.close()
	b.durable = newGroup(func([]struct{}) error { return nil }, 0)
}

// TestLogSyncer fsyncs a database's logs, syncs the directory whenever a
// log it has not synced before appears, and tells a missing directory.
func TestLogSyncer(t *testing.T) {
	b := openInternal(t, t.TempDir(), func() time.Time { return testStart }, 0)
	if err := newLogSyncer(b.db.Opts().Dir).sync(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	s := newLogSyncer(dir)
	var dirSyncs int
	s.syncDir = func(d string) error {
		if d != dir {
			t.Errorf("synced directory %s, want %s", d, dir)
		}
		dirSyncs++
		return syncFile(d)
	}
	create := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("log"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	step := func(what string, want int) {
		t.Helper()
		if err := s.sync(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if dirSyncs != want {
			t.Fatalf("%s: %d directory syncs, want %d", what, dirSyncs, want)
		}
	}
	create("00001.mem")
	create("000001.vlog")
	create("000002.sst") // a table: Badger syncs those itself
	step("first logs", 1)
	step("same logs", 1)
	create("00002.mem")
	step("a new memtable log", 2)
	if err := os.Remove(filepath.Join(dir, "00001.mem")); err != nil {
		t.Fatal(err)
	}
	step("a flushed log gone", 2)
	if len(s.open) != 2 {
		t.Fatalf("%d logs held open, want the 2 left", len(s.open))
	}

	// A failed directory sync is tried again by the next sync.
	s.syncDir = func(string) error { return errors.New("disk on fire") }
	create("00003.mem")
	if err := s.sync(); err == nil {
		t.Fatal("sync with a failing directory sync succeeded")
	}
	s.syncDir = func(d string) error { dirSyncs++; return syncFile(d) }
	step("after the failed directory sync", 3)
	s.close()
	if len(s.open) != 0 {
		t.Fatalf("%d logs held open after close", len(s.open))
	}

	if err := newLogSyncer(filepath.Join(t.TempDir(), "absent")).sync(); err == nil {
		t.Fatal("syncing the logs of a missing directory succeeded")
	}
}
