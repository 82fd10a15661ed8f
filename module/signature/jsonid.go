package signature

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// parseFieldPath splits a dotted JSON path such as "data.id".
func parseFieldPath(path string) ([]string, error) {
	keys := strings.Split(path, ".")
	for _, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("bad JSON field path %q", path)
		}
	}
	return keys, nil
}

// jsonField returns the string or number at path in a JSON body, or "" if
// the body is not a JSON object or the path does not lead to a string or
// number. Call it only on a verified body. Of repeated keys the last wins,
// as in encoding/json and most parsers an upstream app would use.
//
// It scans rather than decodes, so finding an event ID allocates nothing
// for a plain string and reads the body once. It checks the structure it
// walks (members, colons, commas, the closing brace, nothing after it) but
// not every value it skips, so a signed body that is malformed only inside
// a skipped value still yields its ID; the ID is signed either way.
func jsonField(body []byte, path []string) string {
	raw, end, ok := objectMember(body, path[0])
	if !ok || skipSpace(body, end) != len(body) {
		return ""
	}
	for _, key := range path[1:] {
		if raw, _, ok = objectMember(raw, key); !ok {
			return ""
		}
	}
	switch c := raw[0]; {
	case c == '"':
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return ""
		}
		if bytes.IndexByte(raw, '\\') < 0 {
			return string(raw[1 : len(raw)-1])
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case c == '-' || '0' <= c && c <= '9':
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return ""
		}
		return n.String()
	}
	return ""
}

// objectMember returns the value of the last member named key of the JSON
// object that v starts with (after white space) and the index just past
// that object. It reports false when v does not start with a well-formed
// object or the object has no such member.
func objectMember(v []byte, key string) (value []byte, end int, ok bool) {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return nil, 0, false
	}
	if i = skipSpace(v, i+1); i < len(v) && v[i] == '}' {
		return nil, 0, false
	}
	for i < len(v) && v[i] == '"' {
		kEnd := skipValue(v, i)
		name := v[i:kEnd]
		if i = skipSpace(v, kEnd); i >= len(v) || v[i] != ':' {
			return nil, 0, false
		}
		if i = skipSpace(v, i+1); i >= len(v) {
			return nil, 0, false
		}
		vEnd := skipValue(v, i)
		if vEnd == i {
			return nil, 0, false
		}
		if keyEquals(name, key) {
			value = v[i:vEnd]
		}
		if i = skipSpace(v, vEnd); i >= len(v) {
			return nil, 0, false
		}
		switch v[i] {
		case ',':
			i = skipSpace(v, i+1)
		case '}':
			return value, i + 1, value != nil
		default:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// keyEquals compares a quoted JSON member name with key.
func keyEquals(quoted []byte, key string) bool {
	if len(quoted) < 2 || quoted[len(quoted)-1] != '"' {
		return false
	}
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1:len(quoted)-1]) == key
	}
	var s string
	return json.Unmarshal(quoted, &s) == nil && s == key
}

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the valid JSON value at i.
func skipValue(v []byte, i int) int {
	switch v[i] {
	case '"':
		for i++; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return i
	case '{', '[':
		depth := 0
		for ; i < len(v); i++ {
			switch v[i] {
			case '"':
				i = skipValue(v, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(v) && strings.IndexByte(",}] \t\r\n", v[i]) < 0 {
		i++
	}
	return i
}

// bodyFields names the body fields that carry a scheme's signature,
// timestamp or signed ID instead of headers (Mailgun, Linear). A JSON body
// holds them at their dotted paths; a form-encoded body holds each under
// its path's last key, as Mailgun's form posts do.
type bodyFields struct {
	sig, ts, id []string
}

// fieldValues are the values read from the body, as sent.
type fieldValues struct {
	sig, ts, id string
}

// any reports whether the scheme reads anything from the body before
// verifying it.
func (f bodyFields) any() bool { return f.sig != nil || f.ts != nil }

// read returns the fields' values. A missing signature or timestamp field
// is ErrMissingSignature; a missing ID is left empty.
func (f bodyFields) read(body []byte) (fieldValues, error) {
	get := func(path []string) string { return jsonField(body, path) }
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		form, _ := url.ParseQuery(string(body)) // a bad pair is dropped
		get = func(path []string) string { return form.Get(path[len(path)-1]) }
	}
	var v fieldValues
	for _, f := range []struct {
		path []string
		dst  *string
	}{{f.sig, &v.sig}, {f.ts, &v.ts}, {f.id, &v.id}} {
		if f.path == nil {
			continue
		}
		if *f.dst = get(f.path); *f.dst == "" && f.dst != &v.id {
			return v, fmt.Errorf("%w: no %s field in the body", ErrMissingSignature, strings.Join(f.path, "."))
		}
		if len(*f.dst) > MaxHeaderBytes {
			return v, fmt.Errorf("%w: %s longer than %d bytes", ErrMalformedSignature, strings.Join(f.path, "."), MaxHeaderBytes)
		}
	}
	return v, nil
}
