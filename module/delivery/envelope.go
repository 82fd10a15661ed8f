package delivery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// EnvelopeObject is the value of the envelope's "object" field.
const EnvelopeObject = "webhook_event"

// MaxTypeBytes is the longest event type, subject type or subject ID that
// ParseIntake accepts, in bytes.
const MaxTypeBytes = 255

// Subject names the thing an event is about, such as {"type":"invoice",
// "id":"in_123"}. It is optional, and carried in the envelope and the log.
type Subject struct {
	// Type is the kind of the subject. It is never empty.
	Type string `json:"type"`
	// ID identifies the subject within its type. It is never empty.
	ID string `json:"id"`
}

// Event is one outbound event as stored: what the envelope is built from on
// every attempt.
type Event struct {
	// ID is the event's "wevt_" ID (see NewEventID). It is the envelope's
	// "id" and the webhook-id that signing schemes send, the same on every
	// attempt.
	ID string
	// Type is the event type, such as "invoice.paid".
	Type string
	// Created is when the event was accepted. The envelope carries it in
	// whole Unix seconds.
	Created time.Time
	// Data is the event payload, a JSON object. Nil or empty means {}.
	Data json.RawMessage
	// Subject is optional.
	Subject *Subject
}

// Envelope returns the exact bytes POSTed (and signed) for the event:
//
//	{"id":"wevt_…","object":"webhook_event","type":"…","created":1700000000,"data":{…},"subject":{"type":"…","id":"…"}}
//
// The fields always come in that order, "subject" only when there is one,
// with no whitespace and no trailing newline. Data is compacted with
// json.Compact: insignificant whitespace is removed, but every value, key
// order, duplicate key and string escape is kept byte for byte, so receivers
// see the caller's data unchanged. The result is therefore canonical for an
// event: each attempt rebuilds the identical body, and only the signature's
// timestamp changes. Strings are escaped as encoding/json does, but without
// HTML escaping.
//
// Envelope fails if ID or Type is empty, or if Data is not a JSON object.
func (e Event) Envelope() ([]byte, error) {
	if e.ID == "" {
		return nil, errors.New("envelope: event has no ID")
	}
	if e.Type == "" {
		return nil, errors.New("envelope: event has no type")
	}
	var buf bytes.Buffer
	buf.Grow(len(e.Data) + len(e.Type) + len(e.ID) + 96)
	buf.WriteString(`{"id":`)
	writeJSONString(&buf, e.ID)
	buf.WriteString(`,"object":"` + EnvelopeObject + `","type":`)
	writeJSONString(&buf, e.Type)
	buf.WriteString(`,"created":`)
	buf.WriteString(strconv.FormatInt(e.Created.Unix(), 10))
	buf.WriteString(`,"data":`)
	if len(bytes.TrimSpace(e.Data)) == 0 {
		buf.WriteString("{}")
	} else {
		start := buf.Len()
		if err := json.Compact(&buf, e.Data); err != nil {
			return nil, fmt.Errorf("envelope: data is not valid JSON: %w", err)
		}
		if buf.Bytes()[start] != '{' {
			return nil, errors.New("envelope: data is not a JSON object")
		}
	}
	if e.Subject != nil {
		buf.WriteString(`,"subject":{"type":`)
		writeJSONString(&buf, e.Subject.Type)
		buf.WriteString(`,"id":`)
		writeJSONString(&buf, e.Subject.ID)
		buf.WriteByte('}')
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// writeJSONString appends s as a JSON string, escaped as encoding/json does
// but without HTML escaping.
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // encoding a string cannot fail
	buf.Truncate(buf.Len() - 1) // Encode appends a newline
}

// IntakeError is a refused intake body. Code is a stable snake_case string
// for the JSON error response ({"error":Code,"message":Message}); Message is
// a human-readable sentence that may name the offending field but never
// echoes the body's values.
//
// ParseIntake returns *IntakeError values. errors.Is matches them against
// the Err* sentinels by Code, so a detailed error such as `unknown field
// "typ"` still satisfies errors.Is(err, ErrUnknownField); errors.As extracts
// the Code and Message for the response.
type IntakeError struct {
	// Code is the stable machine-readable code, such as "missing_type".
	Code string
	// Message explains the refusal to a person.
	Message string
}

// Error returns the message.
func (e *IntakeError) Error() string { return e.Message }

// Is reports whether target is an *IntakeError with the same Code.
func (e *IntakeError) Is(target error) bool {
	t, ok := target.(*IntakeError)
	return ok && t.Code == e.Code
}

// The errors ParseIntake returns, compared with errors.Is. Each is answered
// with 400 and its Code.
var (
	// ErrNotJSON means the body is not a single, valid UTF-8 JSON object:
	// malformed JSON, an array or other non-object value, an empty body, or
	// trailing data after the object.
	ErrNotJSON = &IntakeError{Code: "invalid_json", Message: "request body must be a single JSON object"}

	// ErrMissingType means "type" is absent, null or the empty string.
	ErrMissingType = &IntakeError{Code: "missing_type", Message: `"type" is required and must not be empty`}

	// ErrInvalidType means "type" is not a string, is longer than
	// MaxTypeBytes, or holds whitespace, non-printable characters or U+FFFD.
	ErrInvalidType = &IntakeError{Code: "invalid_type", Message: `"type" must be a string of at most 255 printable characters without whitespace`}

	// ErrDataNotObject means "data" is present but is not a JSON object
	// (null, an array, a string, a number or a boolean).
	ErrDataNotObject = &IntakeError{Code: "invalid_data", Message: `"data" must be a JSON object`}

	// ErrBadSubject means "subject" is present and not null, but is not an
	// object of exactly the non-empty strings "type" and "id" (each under
	// the same rules as the event type).
	ErrBadSubject = &IntakeError{Code: "invalid_subject", Message: `"subject" must be an object with non-empty string fields "type" and "id"`}

	// ErrUnknownField means the body has a top-level field other than
	// "type", "data" and "subject". Unknown fields are refused rather than
	// dropped, so a typo such as "dat" fails loudly instead of sending an
	// event with empty data.
	ErrUnknownField = &IntakeError{Code: "unknown_field", Message: "request body has an unknown field"}

	// ErrDuplicateField means a top-level field appears twice. JSON parsers
	// disagree on which copy wins, so the ambiguity is refused.
	ErrDuplicateField = &IntakeError{Code: "duplicate_field", Message: "request body has a repeated field"}
)

// ParseIntake validates an intake body, {"type":"…","data":{…},"subject":
// {"type":"…","id":"…"}}, and returns its parts:
//
//   - the body must be exactly one JSON object in valid UTF-8; leading and
//     trailing whitespace is allowed, trailing data is not;
//   - "type" is required: a non-empty string of at most MaxTypeBytes bytes of
//     printable characters without whitespace (event types are
//     space-separated in the Caddyfile's events list);
//   - "data" is optional and must be an object; when absent, data is {}.
//     The returned data is compacted (see Event.Envelope) and is a copy, not
//     a slice of body;
//   - "subject" is optional; null means absent. Otherwise it must hold
//     exactly "type" and "id", both under the event type's rules;
//   - any other or repeated top-level field is refused.
//
// Field names match exactly (case-sensitively), unlike encoding/json's
// Unmarshal, so "Type" is an unknown field. The body size limit is the
// caller's job. Every error is an *IntakeError; see the Err* variables.
func ParseIntake(body []byte) (typ string, data json.RawMessage, subject *Subject, err error) {
	if !utf8.Valid(body) {
		return "", nil, nil, &IntakeError{Code: ErrNotJSON.Code, Message: "request body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", nil, nil, ErrNotJSON
	}
	var raw struct{ typ, data, subject json.RawMessage }
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", nil, nil, ErrNotJSON
		}
		key, _ := tok.(string) // inside an object, a key is always a string
		var dst *json.RawMessage
		switch key {
		case "type":
			dst = &raw.typ
		case "data":
			dst = &raw.data
		case "subject":
			dst = &raw.subject
		}
		switch {
		case dst == nil:
			return "", nil, nil, &IntakeError{Code: ErrUnknownField.Code, Message: "unknown field " + quoteField(key) + `; allowed are "type", "data" and "subject"`}
		case *dst != nil:
			return "", nil, nil, &IntakeError{Code: ErrDuplicateField.Code, Message: "field " + quoteField(key) + " appears more than once"}
		}
		if err := dec.Decode(dst); err != nil {
			return "", nil, nil, ErrNotJSON
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return "", nil, nil, ErrNotJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, nil, &IntakeError{Code: ErrNotJSON.Code, Message: "request body has data after the JSON object"}
	}

	typ, err = parseName(raw.typ, ErrMissingType, ErrInvalidType)
	if err != nil {
		return "", nil, nil, err
	}

	switch {
	case raw.data == nil:
		data = json.RawMessage("{}")
	case raw.data[0] != '{':
		return "", nil, nil, ErrDataNotObject
	default:
		var buf bytes.Buffer
		buf.Grow(len(raw.data))
		if err := json.Compact(&buf, raw.data); err != nil {
			return "", nil, nil, ErrNotJSON // unreachable: the decoder validated it
		}
		data = buf.Bytes()
	}

	if raw.subject != nil && !bytes.Equal(raw.subject, []byte("null")) {
		if subject, err = parseSubject(raw.subject); err != nil {
			return "", nil, nil, err
		}
	}
	return typ, data, subject, nil
}

// parseSubject parses a subject object strictly: exactly "type" and "id",
// each a valid name.
func parseSubject(raw json.RawMessage) (*Subject, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, ErrBadSubject
	}
	var typ, id json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, ErrBadSubject
		}
		var dst *json.RawMessage
		switch tok {
		case "type":
			dst = &typ
		case "id":
			dst = &id
		default:
			return nil, ErrBadSubject
		}
		if *dst != nil {
			return nil, ErrBadSubject
		}
		if err := dec.Decode(dst); err != nil {
			return nil, ErrBadSubject
		}
	}
	s := new(Subject)
	var err error
	if s.Type, err = parseName(typ, ErrBadSubject, ErrBadSubject); err != nil {
		return nil, err
	}
	if s.ID, err = parseName(id, ErrBadSubject, ErrBadSubject); err != nil {
		return nil, err
	}
	return s, nil
}

// parseName decodes a required name-like string (an event type, a subject
// type or ID): missing for absent, null or "", invalid for a non-string, an
// over-long value, whitespace or a non-printable character.
func parseName(raw json.RawMessage, missing, invalid *IntakeError) (string, error) {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return "", missing
	}
	if raw[0] != '"' {
		return "", invalid
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalid
	}
	if s == "" {
		return "", missing
	}
	if !validName(s) {
		return "", invalid
	}
	return s, nil
}

// validName reports whether s is at most MaxTypeBytes of valid UTF-8 with
// only printable, non-space characters. U+FFFD is refused too: it is what a
// lone surrogate escape such as "\ud800" decodes to, so the name would not
// be the one the sender wrote.
func validName(s string) bool {
	if len(s) > MaxTypeBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// quoteField quotes a field name for an error message, shortened so that a
// hostile body cannot make the message large.
func quoteField(name string) string {
	const limit = 64
	if len(name) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + "…"
	}
	return strconv.Quote(name)
}
