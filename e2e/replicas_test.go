package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookguard/hookguard/internal/redistest"
)

// replicaPassword is the test Redis's password: it reaches Caddy only
// through {env.REDIS_PASSWORD}, and must never show in a log.
const replicaPassword = "redis-pw-e2e-9f3c"

// cluster is one Redis and the environment that replicas of
// caddyfile/replicas.Caddyfile share.
type cluster struct {
	redis    *redistest.Server
	up       *upstream
	sink     *flakySink
	env      map[string]string
	inbound  string // the inbound secret
	replicas []*dispatchSite
}

// newCluster starts a redis-server (with the AOF on if aof), the upstream
// and the sink; replicas start with cluster.start.
func newCluster(t *testing.T, aof bool) *cluster {
	t.Helper()
	c := &cluster{
		redis:   redistest.Start(t, redistest.Options{AOF: aof, Password: replicaPassword}),
		up:      newUpstream(t),
		inbound: newSecret(t),
	}
	orders := newSecret(t)
	c.sink = newFlakySink(t, map[string]string{"/orders": orders})
	c.env = map[string]string{
		"HG_REDIS_ADDR": c.redis.Addr, "REDIS_PASSWORD": replicaPassword,
		"HG_UPSTREAM": c.up.addr, "HG_SINK": c.sink.addr,
		"HG_INBOUND_SECRET": c.inbound, "HG_ORDERS_SECRET": orders,
	}
	t.Cleanup(func() {
		for i, r := range c.replicas {
			if strings.Contains(r.caddy.log.String(), replicaPassword) {
				t.Errorf("replica %d logged the Redis password", i)
			}
		}
	})
	return c
}

// start runs one more replica on its own port and data directory.
func (c *cluster) start(t *testing.T) *dispatchSite {
	t.Helper()
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env := map[string]string{"HG_LISTEN": listen}
	for k, v := range c.env {
		env[k] = v
	}
	r := &dispatchSite{caddy: startCaddy(t, repoFile("caddyfile", "replicas.Caddyfile"), env, listen), base: "http://" + listen, env: env}
	c.replicas = append(c.replicas, r)
	return r
}

// signed returns headers that sign body as Standard Webhooks event id.
func (c *cluster) signed(t testing.TB, id string, body []byte) http.Header {
	return standardRequest(t, c.inbound, id, time.Now(), body)
}

// event posts an event to a replica's intake and returns the answer and
// the event ID.
func event(t testing.TB, r *dispatchSite, typ string) (answer, string) {
	t.Helper()
	a := send(t, r.base+"/events", nil, []byte(`{"type":"`+typ+`","data":{"n":1}}`))
	var ev struct{ ID string }
	_ = json.Unmarshal([]byte(a.Body), &ev)
	return a, ev.ID
}

// Ten concurrent copies of one signed delivery, spread over two replicas,
// reach the upstream once; later copies on either replica get the stored
// answer as a duplicate.
func TestReplicasShareDedupe(t *testing.T) {
	c := newCluster(t, false)
	a, b := c.start(t), c.start(t)
	id := newID(t)
	body := eventBody(id)
	hold := make(chan struct{})
	c.up.set(200, hold)

	answers := make([]answer, 10)
	var conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range answers {
		r := []*dispatchSite{a, b}[i%2]
		wg.Go(func() {
			answers[i] = send(t, r.base+"/hooks", c.signed(t, id, body), body)
			if answers[i].Status == http.StatusConflict {
				conflicts.Add(1)
			}
		})
	}
	// The nine others are answered while the first is still upstream.
	waitFor(t, func() bool { return conflicts.Load() == 9 })
	close(hold)
	wg.Wait()
	var first answer
	for _, ans := range answers {
		if ans.Status == http.StatusOK {
			first = ans
		} else if ans.Status != http.StatusConflict || !strings.Contains(ans.Body, "duplicate_in_flight") {
			t.Fatalf("a copy got %d %s", ans.Status, ans.Body)
		}
	}
	if first.Status != http.StatusOK || c.up.count("/hooks") != 1 {
		t.Fatalf("first answer %d, upstream saw %d (want 200 and 1)", first.Status, c.up.count("/hooks"))
	}
	for _, r := range []*dispatchSite{a, b, a, b} {
		later := send(t, r.base+"/hooks", c.signed(t, id, body), body)
		if later.Status != http.StatusOK || later.Header.Get("Webhook-Duplicate") != "true" || later.Body != first.Body {
			t.Fatalf("a later copy got %d dup=%q %s, want the stored answer %s", later.Status, later.Header.Get("Webhook-Duplicate"), later.Body, first.Body)
		}
	}
	if n := c.up.count("/hooks"); n != 1 {
		t.Fatalf("upstream saw %d deliveries, want 1", n)
	}
}

// An event accepted by replica A, whose endpoint fails twice and then
// hangs while A attempts it a third time, is finished by replica B once A
// is killed and its lease lapses; B's admin API shows the event and the
// attempts that were recorded.
func TestReplicaTakesOverAfterKill(t *testing.T) {
	c := newCluster(t, false)
	a := c.start(t)
	c.sink.script("order.paid", 500, 500, hang, 200)
	ans, id := event(t, a, "order.paid")
	if ans.Status != http.StatusAccepted {
		t.Fatalf("intake on A: %d %s", ans.Status, ans.Body)
	}
	waitFor(t, func() bool { return c.sink.count(id) == 3 }) // the third hangs, on A
	b := c.start(t)
	a.caddy.kill()
	killed := time.Now()

	waitFor(t, func() bool { return c.sink.succeeded(id) })
	if took := time.Since(killed); took > 15*time.Second {
		t.Fatalf("B took %v to take the delivery over", took)
	}
	if n, ok := c.sink.verified(id); n != 4 || !ok {
		t.Fatalf("the sink saw %d attempts (want 4), all verified: %v", n, ok)
	}
	var ds []map[string]any
	waitFor(t, func() bool {
		ds = webhookDeliveries(b.adminJSON(t, "GET", "/webhooks/events/"+id, "", 200))
		return len(ds) == 1 && ds[0]["status"] == "succeeded"
	})
	// A's third attempt died with A, unrecorded: B's admin API shows the
	// two failures and B's success.
	if ds[0]["attempts"] != float64(3) || ds[0]["response_status"] != float64(200) {
		t.Fatalf("B's admin API shows %v, want 3 attempts, the last answered 200", ds[0])
	}
}

// An endpoint created through replica A's admin API receives the events
// replica B accepts.
func TestReplicasShareEndpoints(t *testing.T) {
	c := newCluster(t, false)
	a, b := c.start(t), c.start(t)
	created := a.adminJSON(t, "POST", "/webhooks/endpoints",
		`{"name":"made-on-a","url":"http://`+c.sink.addr+`/made-on-a","event_types":["user.signed_up"]}`, 201)
	epID, _ := created["id"].(string)
	secret, _ := created["signing_secret"].(string)
	c.sink.setSecret("/made-on-a", secret)

	ans, id := event(t, b, "user.signed_up")
	if ans.Status != http.StatusAccepted || !strings.Contains(ans.Body, epID) {
		t.Fatalf("intake on B: %d %s, want a delivery to %s", ans.Status, ans.Body, epID)
	}
	waitFor(t, func() bool { return c.sink.succeeded(id) })
	if n, ok := c.sink.verified(id); n != 1 || !ok {
		t.Fatalf("the sink saw %d deliveries (want 1), verified: %v", n, ok)
	}
	if got := b.adminJSON(t, "GET", "/webhooks/endpoints/"+epID, "", 200); got["name"] != "made-on-a" {
		t.Fatalf("B's admin API shows %v", got)
	}
}

// hang, in a flakySink script, holds the request until the sender gives
// up or dies.
const hang = -1

// flakySink is a loopback endpoint that verifies each delivery with the
// Standard Webhooks library and answers each event's attempts as scripted
// by its type.
type flakySink struct {
	addr    string
	mu      sync.Mutex
	secrets map[string]string // path → secret
	scripts map[string][]int  // type → answer to each attempt, in turn; then 200
	got     map[string][]sunk // event ID → attempts
}

type sunk struct {
	verified bool
	status   int // 0 while unanswered
}

func newFlakySink(t testing.TB, secrets map[string]string) *flakySink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &flakySink{addr: l.Addr().String(), secrets: secrets, scripts: map[string][]int{}, got: map[string][]sunk{}}
	srv := &http.Server{Handler: s}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *flakySink) script(typ string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[typ] = statuses
}

func (s *flakySink) setSecret(path, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[path] = secret
}

func (s *flakySink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var env struct{ ID, Type string }
	_ = json.Unmarshal(body, &env)
	s.mu.Lock()
	wh, err := standardwebhooks.NewWebhook(s.secrets[r.URL.Path])
	ok := err == nil && wh.Verify(body, r.Header) == nil
	n := len(s.got[env.ID])
	s.got[env.ID] = append(s.got[env.ID], sunk{verified: ok})
	status := http.StatusOK
	if script := s.scripts[env.Type]; n < len(script) {
		status = script[n]
	}
	s.mu.Unlock()
	if status == hang {
		<-r.Context().Done()
		return
	}
	w.WriteHeader(status)
	s.mu.Lock()
	s.got[env.ID][n].status = status
	s.mu.Unlock()
}

// count is how many attempts of event id arrived.
func (s *flakySink) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got[id])
}

// succeeded reports whether an attempt of event id was answered 2xx.
func (s *flakySink) succeeded(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.got[id] {
		if a.status >= 200 && a.status < 300 {
			return true
		}
	}
	return false
}

// verified returns how many attempts of event id arrived, and whether the
// signature of every one of them verified.
func (s *flakySink) verified(id string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := true
	for _, a := range s.got[id] {
		ok = ok && a.verified
	}
	return len(s.got[id]), ok
}

// `caddy validate` needs no Redis; `caddy run` without one refuses to
// start, saying where it tried, and never shows the password.
func TestReplicaConfigWithoutRedis(t *testing.T) {
	env := []string{"XDG_DATA_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(),
		"HG_REDIS_ADDR=127.0.0.1:" + fmt.Sprint(freePort(t)), "REDIS_PASSWORD=" + replicaPassword,
		"HG_LISTEN=127.0.0.1:" + fmt.Sprint(freePort(t)), "HG_UPSTREAM=127.0.0.1:9", "HG_SINK=127.0.0.1:9",
		"HG_INBOUND_SECRET=" + newSecret(t), "HG_ORDERS_SECRET=" + newSecret(t),
		"CADDY_ADMIN=127.0.0.1:" + fmt.Sprint(freePort(t))}
	config := repoFile("caddyfile", "replicas.Caddyfile")
	validate := exec.Command(caddyBin, "validate", "--config", config)
	validate.Env = append(os.Environ(), env...)
	if out, err := validate.CombinedOutput(); err != nil {
		t.Fatalf("validate without Redis: %v\n%s", err, out)
	}
	run := exec.Command(caddyBin, "run", "--config", config)
	run.Env = append(os.Environ(), env...)
	out, err := run.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "connecting to redis at redis://:xxxxx@127.0.0.1:") {
		t.Fatalf("run without Redis: %v\n%s", err, out)
	}
	if strings.Contains(string(out), replicaPassword) {
		t.Fatalf("the refusal shows the password:\n%s", out)
	}
}

// A Redis that comes back empty (no persistence) loses the events it held,
// but not the Caddyfile's endpoints for long: the replica writes them again
// on its own, and new events are delivered without a reload.
func TestReplicaRestoresStaticEndpoints(t *testing.T) {
	c := newCluster(t, false)
	r := c.start(t)
	c.redis.Kill()
	c.redis.Restart() // empty
	var id string
	waitFor(t, func() bool {
		var a answer
		a, id = event(t, r, "order.created")
		return a.Status == http.StatusAccepted && strings.Contains(a.Body, "wdlv_")
	})
	waitFor(t, func() bool { return c.sink.succeeded(id) })
	if n, ok := c.sink.verified(id); n != 1 || !ok {
		t.Fatalf("the sink saw %d deliveries (want 1), verified: %v", n, ok)
	}
}
