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
// the body is not JSON or the path does not lead to a string or number.
// Call it only on a verified body. Of repeated keys the last wins, as in
// encoding/json and most parsers an upstream app would use.
func jsonField(body []byte, path []string) string {
	raw := json.RawMessage(body)
	for _, key := range path {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return ""
		}
		var ok bool
		if raw, ok = obj[key]; !ok {
			return ""
		}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
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
