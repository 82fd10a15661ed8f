package signature

import (
	"encoding/json"
	"strings"
	"testing"
)

// refJSONField is jsonField written with encoding/json, decoding each
// object on the path: the behaviour the scanner must keep on valid JSON.
func refJSONField(body []byte, path []string) string {
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

// FuzzJSONField checks that the scanner never panics and, on valid JSON
// with valid UTF-8 strings, agrees with encoding/json.
func FuzzJSONField(f *testing.F) {
	for _, seed := range []string{
		`{"id":"evt_1"}`, `{"data":{"id":"d_1"},"id":"top"}`, `{"id":"a","id":"b"}`, `{"i\u0064":"esc"}`,
		`{"id":12.5e3}`, `{"id":"\"q\""}`, `{"data":[{"id":"x"}],"id":{"id":1}}`, ` {"id" : "sp" } `,
		`{"id":"evt_1"} trailing`, `{"id"`, `{"id":}`, `{,}`, `{"a":"\\"}`,
	} {
		f.Add([]byte(seed), "id")
		f.Add([]byte(seed), "data.id")
	}
	f.Fuzz(func(t *testing.T, body []byte, dotted string) {
		path, err := parseFieldPath(dotted)
		if err != nil {
			return
		}
		got := jsonField(body, path)
		if !json.Valid(body) || strings.ToValidUTF8(string(body), "") != string(body) {
			return
		}
		if want := refJSONField(body, path); got != want {
			t.Fatalf("jsonField(%q, %q) = %q, encoding/json gives %q", body, dotted, got, want)
		}
	})
}
