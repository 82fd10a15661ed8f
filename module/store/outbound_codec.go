package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Key layout of the outbound records, beside dedupePrefix in the same
// database. Event and delivery IDs never contain '/', so every composite key
// parses unambiguously.
//
//	ep/<endpointID>                         endpoint (JSON), kept forever
//	ev/<eventID>                            event (eventFormat frame)
//	dl/<deliveryID>                         delivery (JSON deliveryRecord)
//	evdl/<eventID>/<deliveryID>             index of an event's deliveries, empty value
//	idem/<idempotency key>                  idemRecord (JSON) naming the event
//	q/<unix nanos, 8 bytes BE>/<deliveryID> queue entry, value queueKind + expiry
//
// Every key of an event (its record, deliveries, index, queue entries and
// idempotency key) carries the same Badger expiry, retention plus ttlMargin
// after CreateEvent by the wall clock, so they vanish together. What the
// logic sees is decided by the Expires held in the records, read against
// the injected clock.
const (
	endpointPrefix      = "ep/"
	eventPrefix         = "ev/"
	deliveryPrefix      = "dl/"
	eventDeliveryPrefix = "evdl/"
	idemPrefix          = "idem/"
	queuePrefix         = "q/"

	// maxRawIdemKey is the longest idempotency key stored as is; a longer
	// one is stored by its SHA-256, keeping keys small and far under
	// Badger's 65,000-byte key limit.
	maxRawIdemKey = 512
)

// Queue entry kinds, the first byte of a queue value.
const (
	// queuePending marks the entry of a pending delivery, at NextAttemptAt.
	queuePending byte = 'p'
	// queueLeased marks the entry of a delivering one, at LeaseUntil.
	queueLeased byte = 'l'
)

// eventFormat is the first byte of an encoded event. A new layout gets a
// new number.
const eventFormat byte = 1

// errCorruptRecord is returned when a stored outbound record cannot be
// decoded.
var errCorruptRecord = errors.New("store: corrupt outbound record")

func endpointKey(id string) []byte { return append([]byte(endpointPrefix), id...) }
func eventKey(id string) []byte    { return append([]byte(eventPrefix), id...) }
func deliveryKey(id string) []byte { return append([]byte(deliveryPrefix), id...) }

// eventDeliveriesPrefix is the prefix of the index keys of an event's
// deliveries.
func eventDeliveriesPrefix(eventID string) []byte {
	return []byte(eventDeliveryPrefix + eventID + "/")
}

func eventDeliveryKey(eventID, deliveryID string) []byte {
	return append(eventDeliveriesPrefix(eventID), deliveryID...)
}

// idemKey is the database key of an idempotency key: the key itself, or
// "sha256:" and its hex digest when it is longer than maxRawIdemKey. The
// event it names records the full key, which CreateEvent compares.
func idemKey(key string) []byte {
	if len(key) <= maxRawIdemKey {
		return append([]byte(idemPrefix), key...)
	}
	sum := sha256.Sum256([]byte(key))
	return []byte(idemPrefix + "sha256:" + hex.EncodeToString(sum[:]))
}

// queueNanos is t as the queue orders it: Unix nanoseconds, with times
// before 1970 counted as 1970 so that the unsigned big-endian order holds.
func queueNanos(t time.Time) uint64 {
	return uint64(max(t.UnixNano(), 0))
}

// queueKey is the queue entry of delivery id due at t.
func queueKey(t time.Time, id string) []byte {
	k := make([]byte, 0, len(queuePrefix)+9+len(id))
	k = append(k, queuePrefix...)
	k = binary.BigEndian.AppendUint64(k, queueNanos(t))
	k = append(k, '/')
	return append(k, id...)
}

// parseQueueKey splits a queue key into its due time and delivery ID.
func parseQueueKey(k []byte) (due uint64, id string, ok bool) {
	const head = len(queuePrefix) + 9
	if len(k) <= head || !bytes.HasPrefix(k, []byte(queuePrefix)) || k[head-1] != '/' {
		return 0, "", false
	}
	return binary.BigEndian.Uint64(k[len(queuePrefix):]), string(k[head:]), true
}

// queueSlot is where d belongs in the queue: a pending delivery at its
// NextAttemptAt, a delivering one at its LeaseUntil (so that it comes due
// again if its worker dies), and a final one nowhere.
func queueSlot(d Delivery) (at time.Time, kind byte, queued bool) {
	switch d.Status {
	case DeliveryPending:
		return d.NextAttemptAt, queuePending, true
	case DeliveryDelivering:
		return d.LeaseUntil, queueLeased, true
	}
	return time.Time{}, 0, false
}

// encodeQueueValue is a queue entry's value: its kind, then the delivery's
// logical expiry in Unix nanoseconds (8 bytes, big endian), so that
// QueueDepth can count from the queue alone.
func encodeQueueValue(kind byte, expires time.Time) []byte {
	return binary.BigEndian.AppendUint64([]byte{kind}, uint64(expires.UnixNano()))
}

func decodeQueueValue(v []byte) (kind byte, expires time.Time, ok bool) {
	if len(v) != 9 || (v[0] != queuePending && v[0] != queueLeased) {
		return 0, time.Time{}, false
	}
	return v[0], time.Unix(0, int64(binary.BigEndian.Uint64(v[1:]))), true
}

// eventMeta is the JSON part of an encoded event.
type eventMeta struct {
	Expires time.Time `json:"expires"`
	// Event has Data and Subject cleared: they follow the JSON as raw
	// bytes, because encoding/json would compact and re-escape them.
	Event Event `json:"event"`
}

// encodeEvent frames ev with its logical expiry:
//
//	format (1 byte) | meta JSON (uvarint length, bytes) |
//	Data (uvarint length+1, or 0 for nil; bytes) | Subject (likewise)
//
// Data and Subject are kept byte for byte, nil apart from empty.
func encodeEvent(ev Event, expires time.Time) ([]byte, error) {
	data, subject := ev.Data, ev.Subject
	ev.Data, ev.Subject = nil, nil
	meta, err := json.Marshal(eventMeta{Expires: expires, Event: ev})
	if err != nil {
		return nil, fmt.Errorf("encoding event %s: %w", ev.ID, err)
	}
	p := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(meta)+len(data)+len(subject))
	p = append(p, eventFormat)
	p = binary.AppendUvarint(p, uint64(len(meta)))
	p = append(p, meta...)
	p = appendOptionalBytes(p, data)
	return appendOptionalBytes(p, subject), nil
}

// decodeEvent parses a record written by encodeEvent. Data and Subject
// alias p, so p must not be reused by the caller.
func decodeEvent(p []byte) (Event, time.Time, error) {
	if len(p) < 1 || p[0] != eventFormat {
		return Event{}, time.Time{}, errCorruptRecord
	}
	meta, p, ok := readBytes(p[1:])
	if !ok {
		return Event{}, time.Time{}, errCorruptRecord
	}
	var m eventMeta
	if err := json.Unmarshal(meta, &m); err != nil {
		return Event{}, time.Time{}, fmt.Errorf("%w: %v", errCorruptRecord, err)
	}
	data, p, ok := readOptionalBytes(p)
	if !ok {
		return Event{}, time.Time{}, errCorruptRecord
	}
	subject, p, ok := readOptionalBytes(p)
	if !ok || len(p) != 0 {
		return Event{}, time.Time{}, errCorruptRecord
	}
	m.Event.Data, m.Event.Subject = data, subject
	return m.Event, m.Expires, nil
}

// appendOptionalBytes appends b with a uvarint of its length plus one, or a
// single 0 when b is nil.
func appendOptionalBytes(p, b []byte) []byte {
	if b == nil {
		return append(p, 0)
	}
	p = binary.AppendUvarint(p, uint64(len(b))+1)
	return append(p, b...)
}

// readOptionalBytes reads what appendOptionalBytes wrote, with a capacity
// that stops an append to the result from overwriting what follows.
func readOptionalBytes(p []byte) ([]byte, []byte, bool) {
	l, n := binary.Uvarint(p)
	if n <= 0 || (l > 0 && l-1 > uint64(len(p)-n)) {
		return nil, nil, false
	}
	if l == 0 {
		return nil, p[n:], true
	}
	end := n + int(l-1)
	return p[n:end:end], p[end:], true
}

// readBytes reads a uvarint-length-prefixed byte string.
func readBytes(p []byte) ([]byte, []byte, bool) {
	l, n := binary.Uvarint(p)
	if n <= 0 || l > uint64(len(p)-n) {
		return nil, nil, false
	}
	end := n + int(l)
	return p[n:end], p[end:], true
}

// deliveryRecord is a stored delivery with its logical expiry.
type deliveryRecord struct {
	Expires  time.Time `json:"expires"`
	Delivery Delivery  `json:"delivery"`
}

// idemRecord is the value of an idempotency key.
type idemRecord struct {
	EventID string    `json:"event_id"`
	Expires time.Time `json:"expires"`
}

// decodeJSON unmarshals a stored JSON record, marking failures as corrupt.
func decodeJSON(v []byte, into any) error {
	if err := json.Unmarshal(v, into); err != nil {
		return fmt.Errorf("%w: %v", errCorruptRecord, err)
	}
	return nil
}

// checkRecordID rejects an empty ID, or one holding '/', which would make
// the composite keys ambiguous.
func checkRecordID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("store: empty %s ID", what)
	case strings.Contains(id, "/"):
		return fmt.Errorf("store: %s ID %q contains '/'", what, id)
	}
	return nil
}

// checkDelivery rejects a delivery that the queue could not hold: an
// unknown status, a pending one with no NextAttemptAt (it would never come
// due) or a delivering one with no LeaseUntil (it would never be reclaimed).
func checkDelivery(d Delivery) error {
	if err := checkRecordID("delivery", d.ID); err != nil {
		return err
	}
	switch d.Status {
	case DeliveryPending:
		if d.NextAttemptAt.IsZero() {
			return fmt.Errorf("store: pending delivery %s has no NextAttemptAt", d.ID)
		}
	case DeliveryDelivering:
		if d.LeaseUntil.IsZero() {
			return fmt.Errorf("store: delivering delivery %s has no LeaseUntil", d.ID)
		}
	case DeliverySucceeded, DeliveryFailed, DeliverySkipped:
	default:
		return fmt.Errorf("store: delivery %s has unknown status %q", d.ID, d.Status)
	}
	return nil
}

// validDeliveryStatus reports whether s is one of the Delivery* statuses.
func validDeliveryStatus(s string) bool {
	switch s {
	case DeliveryPending, DeliveryDelivering, DeliverySucceeded, DeliveryFailed, DeliverySkipped:
		return true
	}
	return false
}
