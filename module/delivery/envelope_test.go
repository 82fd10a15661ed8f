package delivery

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var testCreated = time.Date(2023, 11, 14, 22, 13, 20, 999_000_000, time.UTC) // 1700000000.999

func TestEnvelopeExactBytes(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{
			name: "data and subject",
			ev: Event{
				ID: "wevt_01hf0000000000000000000000", Type: "invoice.paid", Created: testCreated,
				Data:    json.RawMessage(`{"amount":1000,"currency":"eur"}`),
				Subject: &Subject{Type: "invoice", ID: "in_123"},
			},
			want: `{"id":"wevt_01hf0000000000000000000000","object":"webhook_event","type":"invoice.paid","created":1700000000,"data":{"amount":1000,"currency":"eur"},"subject":{"type":"invoice","id":"in_123"}}`,
		},
		{
			name: "no subject",
			ev:   Event{ID: "wevt_x", Type: "t", Created: testCreated, Data: json.RawMessage(`{"a":[1,2,{"b":null}]}`)},
			want: `{"id":"wevt_x","object":"webhook_event","type":"t","created":1700000000,"data":{"a":[1,2,{"b":null}]}}`,
		},
		{
			name: "nil data is {}",
			ev:   Event{ID: "wevt_x", Type: "t", Created: testCreated},
			want: `{"id":"wevt_x","object":"webhook_event","type":"t","created":1700000000,"data":{}}`,
		},
		{
			name: "blank data is {}",
			ev:   Event{ID: "wevt_x", Type: "t", Created: testCreated, Data: json.RawMessage(" \n")},
			want: `{"id":"wevt_x","object":"webhook_event","type":"t","created":1700000000,"data":{}}`,
		},
		{
			name: "whitespace compacted, everything else kept byte for byte",
			ev:   Event{ID: "wevt_x", Type: "t", Created: testCreated, Data: json.RawMessage("{ \"z\" : 1.50e+3 ,\n\t\"a\":\"<&>\\u00e9\\/\" , \"z\": \"dup\" , \"s\": \" spaced  out \" }")},
			want: `{"id":"wevt_x","object":"webhook_event","type":"t","created":1700000000,"data":{"z":1.50e+3,"a":"<&>\u00e9\/","z":"dup","s":" spaced  out "}}`,
		},
		{
			name: "strings escaped without HTML escaping",
			ev:   Event{ID: "wevt_x", Type: `a"b\c<d>&é`, Created: testCreated, Subject: &Subject{Type: "x\ny", ID: "1"}},
			want: `{"id":"wevt_x","object":"webhook_event","type":"a\"b\\c<d>&é","created":1700000000,"data":{},"subject":{"type":"x\ny","id":"1"}}`,
		},
		{
			name: "before 1970",
			ev:   Event{ID: "wevt_x", Type: "t", Created: time.Unix(-5, 0)},
			want: `{"id":"wevt_x","object":"webhook_event","type":"t","created":-5,"data":{}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ev.Envelope()
			if err != nil {
				t.Fatalf("Envelope() error: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("Envelope() =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Fatal("envelope is not valid JSON")
			}
			again, _ := tt.ev.Envelope()
			if !bytes.Equal(got, again) {
				t.Fatal("Envelope() is not deterministic")
			}
		})
	}
}

func TestEnvelopeErrors(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"no ID", Event{Type: "t"}, "no ID"},
		{"no type", Event{ID: "wevt_x"}, "no type"},
		{"invalid data", Event{ID: "wevt_x", Type: "t", Data: json.RawMessage(`{"a":`)}, "not valid JSON"},
		{"array data", Event{ID: "wevt_x", Type: "t", Data: json.RawMessage(`[1]`)}, "not a JSON object"},
		{"string data", Event{ID: "wevt_x", Type: "t", Data: json.RawMessage(`"s"`)}, "not a JSON object"},
		{"null data", Event{ID: "wevt_x", Type: "t", Data: json.RawMessage(`null`)}, "not a JSON object"},
		{"two values", Event{ID: "wevt_x", Type: "t", Data: json.RawMessage(`{} {}`)}, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ev.Envelope()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Envelope() = %s, %v; want error containing %q", got, err, tt.want)
			}
		})
	}
}

// TestEnvelopeRoundTrip checks that intake data survives into the envelope:
// decoding the envelope gives back the fields and the same data.
func TestEnvelopeRoundTrip(t *testing.T) {
	body := []byte(`{"type":"order.created","subject":{"type":"order","id":"o_1"},"data":{"id":"o_1","items":[{"sku":"A","qty":2}],"note":"<b>hi</b> \u2028","big":12345678901234567890,"nested":{"deep":{"x":true}}}}`)
	typ, data, subj, err := ParseIntake(body)
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{ID: "wevt_01hf0000000000000000000000", Type: typ, Created: testCreated, Data: data, Subject: subj}
	env, err := ev.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID      string          `json:"id"`
		Object  string          `json:"object"`
		Type    string          `json:"type"`
		Created int64           `json:"created"`
		Data    json.RawMessage `json:"data"`
		Subject *Subject        `json:"subject"`
	}
	dec := json.NewDecoder(bytes.NewReader(env))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding envelope: %v\n%s", err, env)
	}
	if got.ID != ev.ID || got.Object != "webhook_event" || got.Type != "order.created" || got.Created != 1700000000 {
		t.Errorf("envelope fields = %+v", got)
	}
	if got.Subject == nil || *got.Subject != (Subject{Type: "order", ID: "o_1"}) {
		t.Errorf("subject = %+v", got.Subject)
	}
	// The data is the caller's bytes: the input was already compact.
	wantData := `{"id":"o_1","items":[{"sku":"A","qty":2}],"note":"<b>hi</b> \u2028","big":12345678901234567890,"nested":{"deep":{"x":true}}}`
	if string(got.Data) != wantData || string(data) != wantData {
		t.Errorf("data =\n%s\nwant\n%s", got.Data, wantData)
	}
}

func TestParseIntake(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr *IntakeError
		typ     string
		data    string
		subject *Subject
	}{
		// valid
		{name: "type only", body: `{"type":"user.created"}`, typ: "user.created", data: `{}`},
		{name: "type and data", body: `{"type":"user.created","data":{"id":"u_1","n":1}}`, typ: "user.created", data: `{"id":"u_1","n":1}`},
		{name: "data compacted", body: " {\n \"data\" : { \"a\" : [ 1 , 2 ] } ,\n \"type\" : \"t\" }\n", typ: "t", data: `{"a":[1,2]}`},
		{name: "empty data", body: `{"type":"t","data":{}}`, typ: "t", data: `{}`},
		{name: "with subject", body: `{"type":"t","data":{},"subject":{"type":"invoice","id":"in_1"}}`, typ: "t", data: `{}`, subject: &Subject{Type: "invoice", ID: "in_1"}},
		{name: "subject id order", body: `{"subject":{"id":"in_1","type":"invoice"},"type":"t"}`, typ: "t", data: `{}`, subject: &Subject{Type: "invoice", ID: "in_1"}},
		{name: "null subject is absent", body: `{"type":"t","subject":null}`, typ: "t", data: `{}`},
		{name: "unicode type", body: `{"type":"commande.créée"}`, typ: "commande.créée", data: `{}`},
		{name: "escaped key", body: `{"\u0074ype":"t"}`, typ: "t", data: `{}`},
		{name: "type of 255 bytes", body: `{"type":"` + strings.Repeat("a", 255) + `"}`, typ: strings.Repeat("a", 255), data: `{}`},

		// not JSON
		{name: "empty body", body: ``, wantErr: ErrNotJSON},
		{name: "blank body", body: "  \n", wantErr: ErrNotJSON},
		{name: "garbage", body: `type=t`, wantErr: ErrNotJSON},
		{name: "truncated", body: `{"type":"t"`, wantErr: ErrNotJSON},
		{name: "trailing comma", body: `{"type":"t",}`, wantErr: ErrNotJSON},
		{name: "bad data value", body: `{"type":"t","data":{"a":}}`, wantErr: ErrNotJSON},
		{name: "array", body: `[{"type":"t"}]`, wantErr: ErrNotJSON},
		{name: "string", body: `"t"`, wantErr: ErrNotJSON},
		{name: "null", body: `null`, wantErr: ErrNotJSON},
		{name: "number", body: `1`, wantErr: ErrNotJSON},
		{name: "trailing object", body: `{"type":"t"}{"type":"u"}`, wantErr: ErrNotJSON},
		{name: "trailing garbage", body: `{"type":"t"} x`, wantErr: ErrNotJSON},
		{name: "invalid UTF-8", body: "{\"type\":\"t\",\"data\":{\"a\":\"\xff\"}}", wantErr: ErrNotJSON},

		// type
		{name: "missing type", body: `{"data":{}}`, wantErr: ErrMissingType},
		{name: "empty object", body: `{}`, wantErr: ErrMissingType},
		{name: "empty type", body: `{"type":""}`, wantErr: ErrMissingType},
		{name: "null type", body: `{"type":null}`, wantErr: ErrMissingType},
		{name: "numeric type", body: `{"type":1}`, wantErr: ErrInvalidType},
		{name: "boolean type", body: `{"type":true}`, wantErr: ErrInvalidType},
		{name: "object type", body: `{"type":{"name":"t"}}`, wantErr: ErrInvalidType},
		{name: "array type", body: `{"type":["t"]}`, wantErr: ErrInvalidType},
		{name: "type too long", body: `{"type":"` + strings.Repeat("a", 256) + `"}`, wantErr: ErrInvalidType},
		{name: "type with space", body: `{"type":"user created"}`, wantErr: ErrInvalidType},
		{name: "type padded", body: `{"type":" t"}`, wantErr: ErrInvalidType},
		{name: "type with newline", body: `{"type":"t\n"}`, wantErr: ErrInvalidType},
		{name: "type with NUL", body: `{"type":"t\u0000"}`, wantErr: ErrInvalidType},
		{name: "type with lone surrogate", body: `{"type":"t\ud800"}`, wantErr: ErrInvalidType},

		// data
		{name: "data array", body: `{"type":"t","data":[1,2]}`, wantErr: ErrDataNotObject},
		{name: "data string", body: `{"type":"t","data":"{}"}`, wantErr: ErrDataNotObject},
		{name: "data null", body: `{"type":"t","data":null}`, wantErr: ErrDataNotObject},
		{name: "data number", body: `{"type":"t","data":0}`, wantErr: ErrDataNotObject},
		{name: "data boolean", body: `{"type":"t","data":false}`, wantErr: ErrDataNotObject},

		// subject
		{name: "subject string", body: `{"type":"t","subject":"in_1"}`, wantErr: ErrBadSubject},
		{name: "subject array", body: `{"type":"t","subject":["invoice","in_1"]}`, wantErr: ErrBadSubject},
		{name: "subject empty", body: `{"type":"t","subject":{}}`, wantErr: ErrBadSubject},
		{name: "subject no id", body: `{"type":"t","subject":{"type":"invoice"}}`, wantErr: ErrBadSubject},
		{name: "subject no type", body: `{"type":"t","subject":{"id":"in_1"}}`, wantErr: ErrBadSubject},
		{name: "subject empty id", body: `{"type":"t","subject":{"type":"invoice","id":""}}`, wantErr: ErrBadSubject},
		{name: "subject numeric id", body: `{"type":"t","subject":{"type":"invoice","id":1}}`, wantErr: ErrBadSubject},
		{name: "subject null id", body: `{"type":"t","subject":{"type":"invoice","id":null}}`, wantErr: ErrBadSubject},
		{name: "subject extra field", body: `{"type":"t","subject":{"type":"invoice","id":"in_1","url":"x"}}`, wantErr: ErrBadSubject},
		{name: "subject repeated field", body: `{"type":"t","subject":{"type":"invoice","id":"a","id":"b"}}`, wantErr: ErrBadSubject},
		{name: "subject id with space", body: `{"type":"t","subject":{"type":"invoice","id":"in 1"}}`, wantErr: ErrBadSubject},

		// unknown and repeated fields
		{name: "unknown field", body: `{"type":"t","dat":{}}`, wantErr: ErrUnknownField},
		{name: "id not accepted", body: `{"id":"wevt_x","type":"t"}`, wantErr: ErrUnknownField},
		{name: "field case matters", body: `{"Type":"t"}`, wantErr: ErrUnknownField},
		{name: "duplicate type", body: `{"type":"t","type":"u"}`, wantErr: ErrDuplicateField},
		{name: "duplicate data", body: `{"type":"t","data":null,"data":{}}`, wantErr: ErrDuplicateField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, data, subject, err := ParseIntake([]byte(tt.body))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseIntake(%s) error = %v, want %s", tt.body, err, tt.wantErr.Code)
				}
				var ie *IntakeError
				if !errors.As(err, &ie) || ie.Code != tt.wantErr.Code || ie.Message == "" {
					t.Fatalf("error %v is not an *IntakeError with code %s", err, tt.wantErr.Code)
				}
				if typ != "" || data != nil || subject != nil {
					t.Fatalf("refused body returned values: %q %s %v", typ, data, subject)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIntake(%s) error = %v", tt.body, err)
			}
			if typ != tt.typ || string(data) != tt.data {
				t.Fatalf("ParseIntake = %q, %s; want %q, %s", typ, data, tt.typ, tt.data)
			}
			if (subject == nil) != (tt.subject == nil) || (subject != nil && *subject != *tt.subject) {
				t.Fatalf("subject = %+v, want %+v", subject, tt.subject)
			}
		})
	}
}

func TestIntakeErrorCodes(t *testing.T) {
	want := map[*IntakeError]string{
		ErrNotJSON:        "invalid_json",
		ErrMissingType:    "missing_type",
		ErrInvalidType:    "invalid_type",
		ErrDataNotObject:  "invalid_data",
		ErrBadSubject:     "invalid_subject",
		ErrUnknownField:   "unknown_field",
		ErrDuplicateField: "duplicate_field",
	}
	seen := map[string]bool{}
	for e, code := range want {
		if e.Code != code || e.Error() == "" {
			t.Errorf("%v: code %q, want %q", e, e.Code, code)
		}
		if seen[e.Code] {
			t.Errorf("code %q used twice", e.Code)
		}
		seen[e.Code] = true
		for other := range want {
			if errors.Is(e, other) != (e == other) {
				t.Errorf("errors.Is(%s, %s) wrong", e.Code, other.Code)
			}
		}
	}
	// A detailed error names the field, shortened, and still matches.
	_, _, _, err := ParseIntake([]byte(`{"type":"t","` + strings.Repeat("k", 500) + `":1}`))
	if !errors.Is(err, ErrUnknownField) || len(err.Error()) > 200 || !strings.Contains(err.Error(), "kkk…") {
		t.Errorf("unknown field error = %q", err)
	}
	// A wrapped error still matches.
	if !errors.Is(errorsJoin(err), ErrUnknownField) {
		t.Error("wrapped IntakeError does not match")
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("intake"), err) }

// TestParseIntakeCopiesData checks that the returned data does not alias the
// body, which the caller may reuse.
func TestParseIntakeCopiesData(t *testing.T) {
	body := []byte(`{"type":"t","data":{"a":1}}`)
	_, data, _, err := ParseIntake(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if string(data) != `{"a":1}` {
		t.Fatalf("data changed with the body: %s", data)
	}
}

func FuzzParseIntake(f *testing.F) {
	for _, seed := range []string{
		`{"type":"user.created","data":{"id":"u_1"}}`,
		`{"type":"t"}`,
		`{"type":"t","data":{"a":[1,2,{"b":null}],"s":"<>&\u2028"},"subject":{"type":"x","id":"y"}}`,
		`{"type":"t","subject":null}`,
		`{"type":"","data":[]}`,
		`{"type":"t","type":"u"}`,
		`[{"type":"t"}]`,
		`{"type":"t"} {}`,
		"{\"type\":\"\xff\"}",
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		typ, data, subject, err := ParseIntake(body)
		if err != nil {
			var ie *IntakeError
			if !errors.As(err, &ie) || ie.Code == "" {
				t.Fatalf("error %v is not an *IntakeError", err)
			}
			return
		}
		if typ == "" || !json.Valid(data) || data[0] != '{' {
			t.Fatalf("accepted body gave type %q data %q", typ, data)
		}
		ev := Event{ID: NewEventID(), Type: typ, Created: testCreated, Data: data, Subject: subject}
		env, err := ev.Envelope()
		if err != nil {
			t.Fatalf("accepted body has no envelope: %v", err)
		}
		if !json.Valid(env) {
			t.Fatalf("envelope is not valid JSON: %s", env)
		}
		var got struct {
			Type    string          `json:"type"`
			Data    json.RawMessage `json:"data"`
			Subject *Subject        `json:"subject"`
		}
		if err := json.Unmarshal(env, &got); err != nil {
			t.Fatalf("envelope does not decode: %v", err)
		}
		if got.Type != typ || !bytes.Equal(got.Data, data) {
			t.Fatalf("envelope changed type or data: %q %s vs %q %s", got.Type, got.Data, typ, data)
		}
		if (got.Subject == nil) != (subject == nil) || (subject != nil && *got.Subject != *subject) {
			t.Fatalf("envelope changed subject: %+v vs %+v", got.Subject, subject)
		}
	})
}
