package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Redis goes away under traffic and comes back, twice: stopped (an
// operator's restart) and killed with SIGKILL (a crash), with the AOF on
// and `appendfsync always`. While it is away, webhook_verify refuses with
// 503 store_unavailable and Retry-After and forwards nothing it could not
// check, and intake refuses with 503 and acknowledges nothing. Once it is
// back, the same Caddy processes recover without a restart, and every
// event that was acknowledged with 202 is delivered.
func TestRedisFaults(t *testing.T) {
	c := newCluster(t, true)
	a, b := c.start(t), c.start(t)
	replicas := []*dispatchSite{a, b}

	var (
		stop                           atomic.Bool
		wg                             sync.WaitGroup
		mu                             sync.Mutex
		forwarded, refused, badAnswers int
		acked                          = map[string]bool{}
		intakeRefused                  int
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		r := replicas[w%2]
		wg.Go(func() { // inbound: a fresh event each time
			for !stop.Load() {
				id := newID(t)
				body := eventBody(id)
				ans, err := post(client, r.base+"/hooks", c.signed(t, id, body), body)
				mu.Lock()
				switch {
				case err != nil:
					badAnswers++
				case ans.Status == http.StatusOK:
					forwarded++
				case ans.Status == http.StatusServiceUnavailable && strings.Contains(ans.Body, `"store_unavailable"`) &&
					ans.Header.Get("Retry-After") != "":
					refused++
				default:
					badAnswers++
					t.Errorf("inbound answer %d %s", ans.Status, ans.Body)
				}
				mu.Unlock()
			}
		})
		wg.Go(func() { // outbound: events to the static endpoint
			for !stop.Load() {
				ans, err := post(client, r.base+"/events", nil, []byte(`{"type":"order.created","data":{"n":1}}`))
				mu.Lock()
				switch {
				case err != nil:
					badAnswers++
				case ans.Status == http.StatusAccepted:
					var ev struct{ ID string }
					if json.Unmarshal([]byte(ans.Body), &ev) != nil || ev.ID == "" {
						t.Errorf("intake answer %s", ans.Body)
					}
					acked[ev.ID] = true
				case ans.Status == http.StatusServiceUnavailable && strings.Contains(ans.Body, `"store_unavailable"`):
					intakeRefused++
				default:
					badAnswers++
					t.Errorf("intake answer %d %s", ans.Status, ans.Body)
				}
				mu.Unlock()
			}
		})
	}
	counts := func() (int, int, int, int) {
		mu.Lock()
		defer mu.Unlock()
		return forwarded, refused, len(acked), intakeRefused
	}
	// Traffic flows; then Redis is stopped, then killed, and each time
	// started again under the same traffic.
	for _, outage := range []struct {
		name string
		down func()
	}{{"stopped", c.redis.Stop}, {"killed", c.redis.Kill}} {
		f0, _, a0, _ := counts()
		waitFor(t, func() bool { f, _, n, _ := counts(); return f > f0+20 && n > a0+20 })
		_, r0, _, i0 := counts()
		outage.down()
		waitFor(t, func() bool { _, r, _, i := counts(); return r > r0+20 && i > i0+5 })
		f1, _, _, _ := counts()
		c.redis.Restart()
		waitFor(t, func() bool { f, _, _, _ := counts(); return f > f1+20 })
		t.Logf("Redis %s and back", outage.name)
	}
	stop.Store(true)
	wg.Wait()

	f, r, n, i := counts()
	t.Logf("inbound: %d forwarded, %d refused; intake: %d acknowledged, %d refused; %d transport errors", f, r, n, i, badAnswers)
	if up := c.up.count("/hooks"); up != f {
		t.Fatalf("the upstream saw %d requests, but %d were answered 200: something was forwarded unchecked", up, f)
	}
	if badAnswers > 0 {
		t.Fatalf("%d answers were neither right nor a clean refusal", badAnswers)
	}
	// Every acknowledged event arrives, however the outages cut through
	// its delivery (a lease cut short is taken over once it lapses).
	mu.Lock()
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	mu.Unlock()
	waitFor(t, func() bool {
		for _, id := range ids {
			if !c.sink.succeeded(id) {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if _, ok := c.sink.verified(id); !ok {
			t.Fatalf("a delivery of %s did not verify", id)
		}
	}
}

// A Redis that answers nothing (SIGSTOP) is a slow store: webhook_verify
// gives up and answers 503 store_unavailable with Retry-After rather than
// forward unchecked or hang, and the intake refuses too; once Redis runs
// again, so does traffic.
func TestRedisStuckFailsClosed(t *testing.T) {
	c := newCluster(t, false)
	r := c.start(t)
	c.redis.Pause()
	id := newID(t)
	body := eventBody(id)
	began := time.Now()
	var a, ev answer
	var wg sync.WaitGroup
	wg.Go(func() { a = send(t, r.base+"/hooks", c.signed(t, id, body), body) })
	wg.Go(func() { ev, _ = event(t, r, "order.created") })
	wg.Wait()
	took := time.Since(began)
	c.redis.Resume()
	if a.Status != http.StatusServiceUnavailable || errorCode(t, a) != "store_unavailable" || a.Header.Get("Retry-After") == "" {
		t.Fatalf("webhook_verify with Redis stuck: %d %v %s", a.Status, a.Header, a.Body)
	}
	if ev.Status != http.StatusServiceUnavailable || errorCode(t, ev) != "store_unavailable" {
		t.Fatalf("intake with Redis stuck: %d %s", ev.Status, ev.Body)
	}
	if n := c.up.count("/hooks"); n != 0 || took > 20*time.Second {
		t.Fatalf("upstream saw %d requests; the refusals took %v", n, took)
	}
	// A fresh event goes through at once; the refused one too, since its
	// claim, written once Redis resumed, is taken back.
	resumed := time.Now()
	waitFor(t, func() bool {
		fresh := newID(t)
		return send(t, r.base+"/hooks", c.signed(t, fresh, eventBody(fresh)), eventBody(fresh)).Status == http.StatusOK
	})
	waitFor(t, func() bool {
		return send(t, r.base+"/hooks", c.signed(t, id, body), body).Status == http.StatusOK
	})
	t.Logf("refusals took %v; traffic recovered %v after Redis resumed", took.Round(time.Millisecond), time.Since(resumed).Round(time.Millisecond))
}
