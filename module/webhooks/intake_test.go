package webhooks

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookguard/hookguard/module/store"
)

// FuzzAppendEventJSON: the intake's answer, written without reflection,
// is byte for byte what json.Marshal makes of the same event, or is left
// to json.Marshal.
func FuzzAppendEventJSON(f *testing.F) {
	f.Add("wevt_01jd8x", "order.paid", `{"type":"order","id":"o_1"}`, "wdlv_01jd8y", "we_orders", "delivering", int64(1732420800))
	f.Add("wevt_1", "a<b", "", "wdlv_1", "we_1", "pending", int64(0))
	f.Add("wevt_1", "tÿpe", `{"type":"a b","id":"c"}`, "wdlv_1", "we_1", "pending", int64(-5))
	f.Add("wevt_1", `qu"ote`, `{"type":"\u003c","id":"x\\y"}`, "wdlv_1", `we\1`, "pending", int64(1))
	f.Add("wevt_1", "t", `{"type":"a","id":"b"}`, "", "", "", int64(1))
	f.Fuzz(func(t *testing.T, id, typ, subject, did, endpoint, status string, created int64) {
		ev := store.Event{ID: id, Type: typ, Created: time.Unix(created, 0)}
		if subject != "" {
			if !json.Valid([]byte(subject)) {
				return // a stored subject is always json.Marshal's output
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, []byte(subject)); err != nil {
				t.Fatal(err)
			}
			ev.Subject = compact.Bytes()
		}
		for _, ds := range [][]store.Delivery{nil, {{ID: did, EndpointID: endpoint, Status: status}, {ID: "wdlv_2", EndpointID: "we_2", Status: "pending"}}} {
			want, err := json.Marshal(eventJSON(ev, ds))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := appendEventJSON(nil, ev, ds)
			if ok && !bytes.Equal(got, want) {
				t.Fatalf("appendEventJSON = %s\njson.Marshal   = %s", got, want)
			}
		}
	})
}

// TestAppendEventJSONTakesPlainEvents: an event of a plain type, with or
// without a subject, is written without json.Marshal.
func TestAppendEventJSONTakesPlainEvents(t *testing.T) {
	ds := []store.Delivery{{ID: "wdlv_01jd8y", EndpointID: "we_orders", Status: store.DeliveryDelivering}}
	for _, subject := range []string{"", `{"type":"order","id":"o_1"}`} {
		ev := store.Event{ID: "wevt_01jd8x", Type: "order.paid", Created: time.Unix(1732420800, 0), Subject: json.RawMessage(subject)}
		if subject == "" {
			ev.Subject = nil
		}
		got, ok := appendEventJSON(nil, ev, ds)
		want, _ := json.Marshal(eventJSON(ev, ds))
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("subject %q: appendEventJSON = %s, %v; want %s", subject, got, ok, want)
		}
	}
}
