package signature

import (
	"encoding/json"
	"errors"
	"fmt"
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
	// Tamper, when set, is the body text whose first byte the tampered twin
	// flips, for a scheme that signs only part of the body (Mailgun's
	// token); otherwise the middle byte is flipped.
	Tamper string `json:"tamper"`
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

// verify checks the vector as given and returns its scheme, secrets,
// clock and result.
func (v vector) verify(t *testing.T) (*Scheme, []Secret, time.Time, Result) {
	t.Helper()
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
	return s, secrets, now, res
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
			s, secrets, now, res := v.verify(t)
			if res.ID != v.ID {
				t.Errorf("ID = %q, want %q", res.ID, v.ID)
			}
			if v.ID != "" && res.DedupeKey != "id:"+v.ID {
				t.Errorf("DedupeKey = %q", res.DedupeKey)
			}
			if s.HasTimestamp() != !res.Timestamp.IsZero() {
				t.Errorf("Timestamp = %v, HasTimestamp %v", res.Timestamp, s.HasTimestamp())
			}
			if s.HasTimestamp() {
				late := now.Add(5*time.Minute + time.Hour)
				if _, err := s.Verify(v.request(), secrets, late, 5*time.Minute); !errors.Is(err, ErrStaleTimestamp) {
					t.Errorf("an hour past the tolerance: err = %v, want ErrStaleTimestamp", err)
				}
			}

			tampered := v.request()
			pos := len(tampered.Body) / 2
			if v.Tamper != "" {
				if pos = strings.Index(v.Body, v.Tamper); pos < 0 {
					t.Fatalf("tamper text %q not in the body", v.Tamper)
				}
			}
			tampered.Body[pos] ^= 0x01
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

// unsignedIDHeaders are delivery-ID headers providers send outside the
// signature (providers.md §2.1), set on every vector below.
var unsignedIDHeaders = []string{
	"X-GitHub-Delivery", "X-Shopify-Webhook-Id", "X-Shopify-Event-Id", "X-Gitlab-Event-UUID", "Idempotency-Key",
	"BOX-DELIVERY-ID", "x-razorpay-event-id", "Linear-Delivery", "X-WC-Webhook-Delivery-ID", "X-Request-UUID",
	"Request-ID", "Upstash-Message-Id", "x-zendesk-webhook-invocation-id", "X-Foil-Event", "X-Webhook-Id",
}

// TestDedupeKeyIgnoresUnsignedHeaders changes, one at a time, every header
// of every vector, the scheme's own headers and the usual unsigned
// delivery-ID headers, and removes each: the request must then either be
// refused or keep its dedupe key. So no preset's dedupe key can be set by
// an unsigned header.
func TestDedupeKeyIgnoresUnsignedHeaders(t *testing.T) {
	for name, v := range loadVectors(t) {
		t.Run(name, func(t *testing.T) {
			s, secrets, now, want := v.verify(t)
			names := append(append([]string{}, unsignedIDHeaders...), s.Headers()...)
			for k := range v.Headers {
				names = append(names, k)
			}
			for _, hdr := range names {
				for _, remove := range []bool{false, true} {
					r := v.request()
					if remove {
						r.Header.Del(hdr)
					} else {
						r.Header.Set(hdr, "forged-"+hdr)
					}
					got, err := s.Verify(r, secrets, now, 5*time.Minute)
					if err == nil && got.DedupeKey != want.DedupeKey {
						t.Errorf("%s (removed %v) changed the dedupe key to %q", hdr, remove, got.DedupeKey)
					}
				}
			}
		})
	}
}

// TestVerifyConcurrently verifies vectors from several goroutines sharing
// the parsed secrets, whose pooled HMAC states must not leak between
// requests (run it with -race).
func TestVerifyConcurrently(t *testing.T) {
	vs := loadVectors(t)
	done := make(chan error)
	for _, name := range []string{"standard", "stripe", "github", "slack", "pagerduty"} {
		v := vs[name]
		s := mustLookup(t, v.Scheme)
		secrets := []Secret{v.secret(t, s)}
		for range 4 {
			go func() {
				for i := 0; i < 200; i++ {
					r := v.request()
					if i%2 == 1 {
						r.Body[len(r.Body)/2] ^= 1
					}
					_, err := s.Verify(r, secrets, time.Unix(v.Now, 0), 5*time.Minute)
					if (err == nil) != (i%2 == 0) {
						done <- fmt.Errorf("%s request %d: err = %v", name, i, err)
						return
					}
				}
				done <- nil
			}()
		}
	}
	for range 5 * 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
