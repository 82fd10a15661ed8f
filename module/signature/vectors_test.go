package signature

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vector is one file of testdata/vectors: a request taken from a provider's
// docs or SDK (or, where none is published, computed by an implementation
// independent of this package), never from this package's signer.
type vector struct {
	Scheme  string            `json:"scheme"`
	Source  string            `json:"source"`
	Secret  string            `json:"secret"`
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Now     int64             `json:"now"`
	ID      string            `json:"id"`
	// ShortSecret marks a documented example whose secret is shorter than
	// MinSecretBytes; the test builds the key directly.
	ShortSecret bool `json:"short_secret"`
}

const vectorDir = "../../testdata/vectors"

func loadVectors(t *testing.T) map[string]vector {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in %s: %v", vectorDir, err)
	}
	vs := map[string]vector{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v vector
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if v.Source == "" {
			t.Errorf("%s: no source", f)
		}
		vs[strings.TrimSuffix(filepath.Base(f), ".json")] = v
	}
	return vs
}

func (v vector) request() Request {
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	return Request{Header: h, Body: []byte(v.Body), Method: v.Method, URL: v.URL}
}

func (v vector) secret(t *testing.T, s *Scheme) Secret {
	t.Helper()
	sec, err := s.ParseSecret(v.Secret)
	if v.ShortSecret {
		if err == nil {
			t.Fatal("short_secret set but ParseSecret accepts the secret")
		}
		return Secret{key: []byte(v.Secret), fp: "short"}
	}
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	return sec
}

// TestVectors verifies every provider vector, then flips one body byte and
// expects ErrInvalidSignature (or, for a token scheme that covers no
// content, success under a different dedupe key).
func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	for _, name := range Names() {
		if _, ok := vs[name]; !ok {
			t.Errorf("preset %s has no vector file", name)
		}
	}
	for name, v := range vs {
		t.Run(name, func(t *testing.T) {
			s, ok := Lookup(v.Scheme)
			if !ok {
				t.Fatalf("unknown scheme %q", v.Scheme)
			}
			secrets := []Secret{v.secret(t, s)}
			now := time.Unix(v.Now, 0)
			res, err := s.Verify(v.request(), secrets, now, 5*time.Minute)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.ID != v.ID {
				t.Errorf("ID = %q, want %q", res.ID, v.ID)
			}
			if v.ID != "" && res.DedupeKey != "id:"+v.ID {
				t.Errorf("DedupeKey = %q", res.DedupeKey)
			}
			if s.HasTimestamp() != !res.Timestamp.IsZero() {
				t.Errorf("Timestamp = %v, HasTimestamp %v", res.Timestamp, s.HasTimestamp())
			}

			tampered := v.request()
			tampered.Body[len(tampered.Body)/2] ^= 0x01
			res2, err := s.Verify(tampered, secrets, now, 5*time.Minute)
			if s.alg == algToken {
				if err != nil || res2.DedupeKey == res.DedupeKey {
					t.Errorf("token scheme on changed body: err %v, dedupe key unchanged %v", err, res2.DedupeKey == res.DedupeKey)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("tampered body: err = %v, want ErrInvalidSignature", err)
			}
		})
	}
}
