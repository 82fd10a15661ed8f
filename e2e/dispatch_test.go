package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// sink is a loopback endpoint that verifies every delivery with the
// Standard Webhooks library and records it.
type sink struct {
	mu       sync.Mutex
	secrets  map[string]string // path → secret
	got      []delivered
	statuses map[string][]int // "path type" → statuses to answer, in turn
	delay    time.Duration    // how long each answer takes
	// holdFrom, if set, is how many deliveries are answered: later ones
	// are held unanswered until their connection is cut.
	holdFrom int
	addr     string
}

type delivered struct {
	Path, ID, Type, Signature, Timestamp, UserAgent, Tenant string
	Verified                                                bool
	Envelope                                                map[string]any
	// Answered is set once the sink's answer was written: a delivery cut
	// off by a kill never is.
	Answered bool
}

func newSink(t testing.TB, secrets map[string]string) *sink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{secrets: secrets, statuses: map[string][]int{}, addr: l.Addr().String()}
	srv := &http.Server{Handler: s}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return s
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d := delivered{Path: r.URL.Path, ID: r.Header.Get("webhook-id"), Signature: r.Header.Get("webhook-signature"),
		Timestamp: r.Header.Get("webhook-timestamp"), UserAgent: r.Header.Get("User-Agent"), Tenant: r.Header.Get("X-Tenant")}
	_ = json.Unmarshal(body, &d.Envelope)
	d.Type, _ = d.Envelope["type"].(string)
	s.mu.Lock()
	wh, err := standardwebhooks.NewWebhook(s.secrets[r.URL.Path])
	d.Verified = err == nil && wh.Verify(body, r.Header) == nil
	s.got = append(s.got, d)
	n := len(s.got) - 1
	status := http.StatusOK
	if queue := s.statuses[d.Path+" "+d.Type]; len(queue) > 0 {
		status, s.statuses[d.Path+" "+d.Type] = queue[0], queue[1:]
	}
	delay := s.delay
	if s.holdFrom > 0 && n >= s.holdFrom {
		delay = time.Hour
	}
	s.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-r.Context().Done():
		return
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "answered %d", status)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	s.mu.Lock()
	s.got[n].Answered = r.Context().Err() == nil
	s.mu.Unlock()
}

// deliveries returns what reached path for event id.
func (s *sink) deliveries(path, id string) []delivered {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []delivered
	for _, d := range s.got {
		if d.Path == path && d.ID == id {
			out = append(out, d)
		}
	}
	return out
}

// ids returns the distinct event IDs whose delivery to path was answered.
func (s *sink) ids(path string) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, d := range s.got {
		if d.Path == path && d.Answered {
			out[d.ID] = true
		}
	}
	return out
}

// cutOff returns the event IDs that reached path but were never answered.
func (s *sink) cutOff(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, d := range s.got {
		if d.Path == path && !d.Answered {
			out = append(out, d.ID)
		}
	}
	return out
}

type dispatchSite struct {
	caddy *caddy
	sink  *sink
	base  string
	env   map[string]string
}

func startDispatch(t testing.TB) *dispatchSite {
	t.Helper()
	orders, audit := newSecret(t), newSecret(t)
	sk := newSink(t, map[string]string{"/orders": orders, "/audit": audit})
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env := map[string]string{"HG_LISTEN": listen, "HG_SINK": sk.addr, "HG_DATA": filepath.Join(t.TempDir(), "badger"),
		"HG_ORDERS_SECRET": orders, "HG_AUDIT_SECRET": audit}
	return &dispatchSite{caddy: startCaddy(t, repoFile("caddyfile", "dispatch.Caddyfile"), env, listen), sink: sk, base: "http://" + listen, env: env}
}

// intake posts an event and returns the answer and the event ID.
func (ds *dispatchSite) intake(t testing.TB, body string, header http.Header) (answer, string) {
	t.Helper()
	a := send(t, ds.base+"/", header, []byte(body))
	var ev struct{ ID string }
	_ = json.Unmarshal([]byte(a.Body), &ev)
	return a, ev.ID
}

func TestDispatchEndToEnd(t *testing.T) {
	ds := startDispatch(t)

	t.Run("delivered, signed, to subscribed endpoints only", func(t *testing.T) {
		a, id := ds.intake(t, `{"type":"order.created","data":{"order":"o_1","total":4200}}`, nil)
		if a.Status != 202 || !strings.HasPrefix(id, "wevt_") || strings.Count(a.Body, "wdlv_") != 2 {
			t.Fatalf("intake: %d %s", a.Status, a.Body)
		}
		waitFor(t, func() bool {
			return len(ds.sink.deliveries("/orders", id)) == 1 && len(ds.sink.deliveries("/audit", id)) == 1
		})
		d := ds.sink.deliveries("/orders", id)[0]
		if !d.Verified || d.Envelope["object"] != "webhook_event" || d.Envelope["id"] != id || !strings.HasPrefix(d.UserAgent, "Hookguard/") {
			t.Fatalf("delivery %+v", d)
		}
		if data, _ := d.Envelope["data"].(map[string]any); data["order"] != "o_1" {
			t.Fatalf("envelope data %v", d.Envelope["data"])
		}
		if a := ds.sink.deliveries("/audit", id)[0]; !a.Verified || a.Tenant != "acme" {
			t.Fatalf("audit delivery %+v", a)
		}

		_, other := ds.intake(t, `{"type":"user.created","data":{}}`, nil)
		waitFor(t, func() bool { return len(ds.sink.deliveries("/audit", other)) == 1 })
		if n := len(ds.sink.deliveries("/orders", other)); n != 0 {
			t.Fatalf("orders got an event it does not subscribe to (%d)", n)
		}
	})

	t.Run("bad intake", func(t *testing.T) {
		for body, code := range map[string]string{
			`not json`:                     "invalid_json",
			`{"data":{}}`:                  "missing_type",
			`{"type":""}`:                  "missing_type",
			`{"type":"a","data":[1]}`:      "invalid_data",
			`{"type":"a","colour":"blue"}`: "unknown_field",
		} {
			a, _ := ds.intake(t, body, nil)
			if a.Status != 400 || errorCode(t, a) != code {
				t.Errorf("%s: got %d %s, want 400 %s", body, a.Status, a.Body, code)
			}
		}
		big := `{"type":"a","data":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`
		if a, _ := ds.intake(t, big, nil); a.Status != 413 || errorCode(t, a) != "body_too_large" {
			t.Errorf("over 1 MiB: got %d %s, want 413 body_too_large", a.Status, a.Body)
		}
		resp, err := http.Get(ds.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 {
			t.Errorf("GET: %d", resp.StatusCode)
		}
	})

	t.Run("retries after 500 and 503 until a 200", func(t *testing.T) {
		ds.sink.mu.Lock()
		ds.sink.statuses["/orders order.paid"] = []int{500, 503}
		ds.sink.mu.Unlock()
		_, id := ds.intake(t, `{"type":"order.paid","data":{"order":"o_2"}}`, nil)
		waitFor(t, func() bool { return len(ds.sink.deliveries("/orders", id)) == 3 })
		got := ds.sink.deliveries("/orders", id)
		// The event log has the three attempts and the success.
		var orders map[string]any
		waitFor(t, func() bool {
			for _, d := range webhookDeliveries(ds.adminJSON(t, "GET", "/webhooks/events/"+id, "", 200)) {
				if d["status"] == "succeeded" && d["attempts"] == float64(3) && d["response_status"] == float64(200) {
					orders = d
				}
			}
			return orders != nil
		})
		for i, d := range got {
			if !d.Verified {
				t.Fatalf("attempt %d not verifiable", i+1)
			}
			if i > 0 && d.Signature == got[i-1].Signature {
				t.Fatalf("attempt %d reused the signature of attempt %d", i+1, i)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		m := ds.caddy.metrics()
		for _, want := range []string{
			`hookguard_dispatch_attempts_total{endpoint="orders",outcome="succeeded"}`,
			`hookguard_dispatch_attempts_total{endpoint="orders",outcome="retry"} 2`,
			`hookguard_dispatch_attempt_duration_seconds_bucket{endpoint="audit",le=`,
			`hookguard_dispatch_queue_depth{state="due"}`,
			`hookguard_dispatch_endpoint_consecutive_failures{endpoint="orders"}`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})

	t.Run("idempotency key", func(t *testing.T) {
		h := http.Header{"Idempotency-Key": {"order-o_3-created"}}
		a1, id1 := ds.intake(t, `{"type":"order.created","data":{"order":"o_3"}}`, h)
		a2, id2 := ds.intake(t, `{"type":"order.created","data":{"order":"o_3"}}`, h)
		if a1.Status != 202 || a2.Status != 202 || id1 != id2 || a2.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("first %d %s, second %d %s", a1.Status, id1, a2.Status, id2)
		}
		waitFor(t, func() bool { return len(ds.sink.deliveries("/orders", id1)) == 1 })
	})
}

// Every acknowledged event is delivered though the process is killed
// with SIGKILL in the middle of delivering them (case 48), and the
// deliveries in flight at the kill are attempted again after the restart.
func TestDispatchSurvivesKill(t *testing.T) {
	ds := startDispatch(t)
	setDelay := func(d time.Duration, holdFrom int) {
		ds.sink.mu.Lock()
		ds.sink.delay, ds.sink.holdFrom = d, holdFrom
		ds.sink.mu.Unlock()
	}
	// Slow answers, and none after the first eight until the kill, so
	// that deliveries are in flight then however fast the intake is.
	setDelay(300*time.Millisecond, 8)
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				body := fmt.Sprintf(`{"type":"user.created","data":{"n":%d}}`, w*30+i)
				resp, err := client.Post(ds.base+"/", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				var ev struct{ ID string }
				err = json.NewDecoder(resp.Body).Decode(&ev)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 202 {
					t.Errorf("intake: %d %v", resp.StatusCode, err)
					return
				}
				mu.Lock()
				acked = append(acked, ev.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(acked) != 300 {
		t.Fatalf("%d of 300 events acknowledged", len(acked))
	}
	// Kill while deliveries are under way: some done, some in flight.
	waitFor(t, func() bool { return len(ds.sink.ids("/audit")) >= 8 })
	ds.caddy.kill()
	before := len(ds.sink.ids("/audit"))
	waitFor(t, func() bool { return len(ds.sink.cutOff("/audit")) > 0 }) // the sink sees the connections drop
	inFlight := ds.sink.cutOff("/audit")
	setDelay(0, 0)
	ds.caddy = startCaddy(t, repoFile("caddyfile", "dispatch.Caddyfile"), ds.env, strings.TrimPrefix(ds.base, "http://"))

	waitFor(t, func() bool {
		got := ds.sink.ids("/audit")
		for _, id := range acked {
			if !got[id] {
				return false
			}
		}
		return true
	})
	ds.sink.mu.Lock()
	attempts := 0
	for _, d := range ds.sink.got {
		if d.Path == "/audit" {
			attempts++
		}
	}
	ds.sink.mu.Unlock()
	if len(inFlight) == 0 {
		t.Fatal("no delivery was in flight at the kill; the test proved nothing about them")
	}
	t.Logf("300 events acknowledged; %d delivered before the kill, %d cut off in flight; all delivered after the restart, in %d attempts (at least once)",
		before, len(inFlight), attempts)
}
