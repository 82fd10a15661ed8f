package store

import (
	"bytes"
	"cmp"
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
//	ev/<eventID>                            event (encodeEvent)
//	dl/<deliveryID>                         delivery (encodeDeliveryRecord)
//	evdl/<eventID>/<deliveryID>             index of an event's deliveries, empty value;
//	                                        written by builds before eventFormatListed, still read
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

// Formats of an encoded event, its first byte. A new layout gets a new
// number; older ones stay readable.
const (
	// eventFormatJSON has its metadata as JSON.
	eventFormatJSON byte = 1
	// eventFormat has it as binary fields; an event's deliveries are
	// found through its evdl/ index keys.
	eventFormat byte = 2
	// eventFormatListed, the one Badger writes, is eventFormat followed by
	// the IDs of the event's deliveries, so that it needs no index keys.
	eventFormatListed byte = 3
)

// Formats of a delivery record in binary, its first byte; an older record
// is JSON, whose first byte is '{'.
const (
	deliveryFormat byte = 1
	// deliveryFormatRetried, the one Badger writes, is deliveryFormat
	// followed by RetriedAt.
	deliveryFormatRetried byte = 2
)

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

// eventMeta is the JSON metadata of an eventFormatJSON event.
type eventMeta struct {
	Expires time.Time `json:"expires"`
	// Event has Data and Subject cleared: they follow the JSON as raw
	// bytes, because encoding/json would compact and re-escape them.
	Event Event `json:"event"`
}

// encodeEvent frames ev with its logical expiry:
//
//	format (1 byte) | Expires, ID, Type, Created, IdempotencyKey (fields) |
//	Data (uvarint length+1, or 0 for nil; bytes) | Subject (likewise) |
//	in eventFormatListed only: delivery IDs (uvarint count, then strings)
//
// where a string is its uvarint length and bytes, and a time its
// time.Time binary form likewise. Data and Subject are kept byte for
// byte, nil apart from empty. With deliveries nil it writes eventFormat,
// otherwise eventFormatListed (an empty list included).
func encodeEvent(ev Event, expires time.Time, deliveries []string) ([]byte, error) {
	n := 64 + len(ev.ID) + len(ev.Type) + len(ev.IdempotencyKey) + len(ev.Data) + len(ev.Subject)
	for _, id := range deliveries {
		n += 1 + len(id)
	}
	format := eventFormat
	if deliveries != nil {
		format = eventFormatListed
	}
	w := fieldWriter{p: append(make([]byte, 0, n), format)}
	w.time(expires)
	w.string(ev.ID)
	w.string(ev.Type)
	w.time(ev.Created)
	w.string(ev.IdempotencyKey)
	w.p = appendOptionalBytes(w.p, ev.Data)
	w.p = appendOptionalBytes(w.p, ev.Subject)
	if deliveries != nil {
		w.p = binary.AppendUvarint(w.p, uint64(len(deliveries)))
		for _, id := range deliveries {
			w.string(id)
		}
	}
	if w.err != nil {
		return nil, fmt.Errorf("encoding event %s: %w", ev.ID, w.err)
	}
	return w.p, nil
}

// eventRecord is a decoded event record.
type eventRecord struct {
	Event   Event
	Expires time.Time
	// Deliveries are the IDs of the event's deliveries, if Listed; an
	// event stored before eventFormatListed lists none, and its
	// deliveries are found through the index keys.
	Deliveries []string
	Listed     bool
}

// decodeEvent is decodeEventRecord without the delivery IDs.
func decodeEvent(p []byte) (Event, time.Time, error) {
	rec, err := decodeEventRecord(p)
	return rec.Event, rec.Expires, err
}

// decodeEventRecord parses a record written by encodeEvent, or by an older
// build in eventFormatJSON. Data and Subject alias p, so p must not be
// reused by the caller.
func decodeEventRecord(p []byte) (eventRecord, error) {
	if len(p) < 1 {
		return eventRecord{}, errCorruptRecord
	}
	var rec eventRecord
	ev := &rec.Event
	switch p[0] {
	case eventFormat, eventFormatListed:
		r := fieldReader{p: p[1:]}
		rec.Expires = r.time()
		ev.ID, ev.Type, ev.Created, ev.IdempotencyKey = r.string(), r.string(), r.time(), r.string()
		if r.bad {
			return eventRecord{}, errCorruptRecord
		}
		rec.Listed = p[0] == eventFormatListed
		p = r.p
	case eventFormatJSON:
		meta, rest, ok := readBytes(p[1:])
		if !ok {
			return eventRecord{}, errCorruptRecord
		}
		var m eventMeta
		if err := json.Unmarshal(meta, &m); err != nil {
			return eventRecord{}, fmt.Errorf("%w: %v", errCorruptRecord, err)
		}
		rec.Event, rec.Expires, p = m.Event, m.Expires, rest
	default:
		return eventRecord{}, errCorruptRecord
	}
	data, p, ok := readOptionalBytes(p)
	if !ok {
		return eventRecord{}, errCorruptRecord
	}
	subject, p, ok := readOptionalBytes(p)
	if !ok {
		return eventRecord{}, errCorruptRecord
	}
	ev.Data, ev.Subject = data, subject
	if rec.Listed {
		r := fieldReader{p: p}
		n := r.uvarint()
		if r.bad || n > uint64(len(r.p)) { // each ID takes a byte at least
			return eventRecord{}, errCorruptRecord
		}
		rec.Deliveries = make([]string, 0, n)
		for range n {
			rec.Deliveries = append(rec.Deliveries, r.string())
		}
		if r.bad {
			return eventRecord{}, errCorruptRecord
		}
		p = r.p
	}
	if len(p) != 0 {
		return eventRecord{}, errCorruptRecord
	}
	return rec, nil
}

// encodeDeliveryRecord encodes rec in deliveryFormatRetried: the format
// byte, then Expires, ID, EventID, EndpointID, Status, the attempts (a
// uvarint count, then each one's At, Duration, ResponseStatus, ResponseBody
// and Error), NextAttemptAt, CreatedAt, UpdatedAt, LeaseToken, LeaseUntil
// and RetriedAt, with strings and times as in encodeEvent and numbers as
// varints.
func encodeDeliveryRecord(rec deliveryRecord) ([]byte, error) {
	d := rec.Delivery
	n := 128 + len(d.ID) + len(d.EventID) + len(d.EndpointID) + len(d.LeaseToken)
	for _, a := range d.Attempts {
		n += 48 + len(a.ResponseBody) + len(a.Error)
	}
	w := fieldWriter{p: append(make([]byte, 0, n), deliveryFormatRetried)}
	w.time(rec.Expires)
	w.string(d.ID)
	w.string(d.EventID)
	w.string(d.EndpointID)
	w.string(d.Status)
	w.p = binary.AppendUvarint(w.p, uint64(len(d.Attempts)))
	for _, a := range d.Attempts {
		w.time(a.At)
		w.p = binary.AppendVarint(w.p, int64(a.Duration))
		w.p = binary.AppendVarint(w.p, int64(a.ResponseStatus))
		w.string(a.ResponseBody)
		w.string(a.Error)
	}
	w.time(d.NextAttemptAt)
	w.time(d.CreatedAt)
	w.time(d.UpdatedAt)
	w.string(d.LeaseToken)
	w.time(d.LeaseUntil)
	w.time(d.RetriedAt)
	if w.err != nil {
		return nil, fmt.Errorf("encoding delivery %s: %w", d.ID, w.err)
	}
	return w.p, nil
}

// decodeDeliveryRecord parses what encodeDeliveryRecord wrote, or the
// deliveryFormat or JSON of an older build.
func decodeDeliveryRecord(p []byte) (deliveryRecord, error) {
	var rec deliveryRecord
	if len(p) == 0 || (p[0] != deliveryFormat && p[0] != deliveryFormatRetried) {
		err := decodeJSON(p, &rec)
		return rec, err
	}
	r := fieldReader{p: p[1:]}
	d := &rec.Delivery
	rec.Expires = r.time()
	d.ID, d.EventID, d.EndpointID, d.Status = r.string(), r.string(), r.string(), r.string()
	if n := r.uvarint(); n > 0 && n <= uint64(len(r.p)) {
		d.Attempts = make([]Attempt, n)
		for i := range d.Attempts {
			a := &d.Attempts[i]
			a.At, a.Duration, a.ResponseStatus = r.time(), time.Duration(r.varint()), int(r.varint())
			a.ResponseBody, a.Error = r.string(), r.string()
		}
	} else if n > 0 {
		r.bad = true
	}
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = r.time(), r.time(), r.time()
	d.LeaseToken, d.LeaseUntil = r.string(), r.time()
	if p[0] == deliveryFormatRetried {
		d.RetriedAt = r.time()
	}
	if r.bad || len(r.p) != 0 {
		return deliveryRecord{}, errCorruptRecord
	}
	return rec, nil
}

// fieldWriter appends fields: a string as its uvarint length and bytes,
// a time as its binary form (which keeps the zone offset, as JSON does)
// likewise. The first error sticks.
type fieldWriter struct {
	p   []byte
	err error
}

func (w *fieldWriter) string(s string) {
	w.p = binary.AppendUvarint(w.p, uint64(len(s)))
	w.p = append(w.p, s...)
}

func (w *fieldWriter) time(t time.Time) {
	at := len(w.p)
	// The binary form is at most 16 bytes, so its length is one byte.
	p, err := t.AppendBinary(append(w.p, 0))
	if err != nil {
		w.err = cmp.Or(w.err, err)
		w.p = w.p[:at]
		return
	}
	p[at] = byte(len(p) - at - 1)
	w.p = p
}

// fieldReader reads the fields a fieldWriter and the varint appenders
// wrote. A malformed field sets bad and reads as zero.
type fieldReader struct {
	p   []byte
	bad bool
}

func (r *fieldReader) bytes() []byte {
	b, rest, ok := readBytes(r.p)
	if !ok {
		r.bad = true
		return nil
	}
	r.p = rest
	return b
}

func (r *fieldReader) string() string { return string(r.bytes()) }

func (r *fieldReader) time() time.Time {
	var t time.Time
	if b := r.bytes(); !r.bad && t.UnmarshalBinary(b) != nil {
		r.bad = true
	}
	return t
}

func (r *fieldReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.p)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.p = r.p[n:]
	return v
}

// varint undoes binary.AppendVarint's zig-zag over a uvarint.
func (r *fieldReader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
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
