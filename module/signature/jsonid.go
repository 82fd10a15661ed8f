package signature

import (
	"encoding/json"
	"fmt"
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
