// Package e2e runs the real Caddy binary, built from cmd/caddy, against
// Caddyfiles from caddyfile/ and a recording upstream, over loopback HTTP.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// caddyBin is the binary built once for the whole package.
var caddyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hookguard-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	caddyBin = filepath.Join(dir, "caddy")
	build := exec.Command("go", "build", "-o", caddyBin, "github.com/hookguard/hookguard/cmd/caddy")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building cmd/caddy:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// caddy is a running Caddy process.
type caddy struct {
	t     testing.TB
	cmd   *exec.Cmd
	admin string
	log   *syncBuffer
	done  chan struct{}
}

// startCaddy runs the binary with config (a path) and env, and waits until
// its admin endpoint answers and the listener at waitAddr accepts.
func startCaddy(t testing.TB, config string, env map[string]string, waitAddr string) *caddy {
	t.Helper()
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(caddyBin, "run", "--config", config, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "CADDY_ADMIN="+admin)
	if _, ok := env["XDG_DATA_HOME"]; !ok {
		cmd.Env = append(cmd.Env, "XDG_DATA_HOME="+t.TempDir())
	}
	cmd.Env = append(cmd.Env, "XDG_CONFIG_HOME="+t.TempDir())
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &caddy{t: t, cmd: cmd, admin: admin, log: new(syncBuffer), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("caddy log:\n%s", c.log.String())
		}
	})
	c.waitStarted(waitAddr)
	return c
}

// waitStarted waits until Caddy has loaded its whole config and addr
// accepts, or fails the test after 30s. The listener alone is not enough:
// the HTTP app starts before the webhooks app opens its store, so a port
// that accepts says nothing of whether a store's connection was made.
func (c *caddy) waitStarted(addr string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			c.t.Fatalf("caddy exited early:\n%s", c.log.String())
		default:
		}
		if strings.Contains(c.log.String(), "serving initial configuration") {
			conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				conn.Close()
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // polling a process we do not control
	}
	c.t.Fatalf("caddy never started serving on %s:\n%s", addr, c.log.String())
}

// stop ends Caddy gracefully and waits for it.
func (c *caddy) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// kill ends Caddy with SIGKILL, as a crash would.
func (c *caddy) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// reload posts config (a Caddyfile path) to the admin endpoint.
func (c *caddy) reload(config string) error {
	cfg, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.admin+"/load", bytes.NewReader(cfg))
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Header.Set("Cache-Control", "must-revalidate") // reload even if unchanged
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("reload: %s: %s", resp.Status, b)
	}
	// The old config's servers close their idle connections, and a POST
	// that send makes on one of those fails with EOF (Go retries only
	// idempotent requests), so send's next request opens a new one.
	http.DefaultClient.CloseIdleConnections()
	return nil
}

// reloadWithout reloads the repository's caddyfile/<name> with the text
// part taken out; the test fails if the file does not hold part.
func (c *caddy) reloadWithout(name, part string) {
	c.t.Helper()
	cfg, err := os.ReadFile(repoFile("caddyfile", name))
	if err != nil {
		c.t.Fatal(err)
	}
	if !strings.Contains(string(cfg), part) {
		c.t.Fatalf("%s does not hold %q", name, part)
	}
	without := filepath.Join(c.t.TempDir(), "Caddyfile")
	if err := os.WriteFile(without, []byte(strings.Replace(string(cfg), part, "", 1)), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := c.reload(without); err != nil {
		c.t.Fatal(err)
	}
}

// metrics returns the admin endpoint's Prometheus text.
func (c *caddy) metrics() string {
	c.t.Helper()
	resp, err := http.Get("http://" + c.admin + "/metrics")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// upstream is a recording upstream: it keeps every request it is handed
// and answers with status (default 200) after an optional hold.
type upstream struct {
	mu       sync.Mutex
	requests []recorded
	status   int
	hold     chan struct{} // when set, each request waits on it
	srv      *http.Server
	addr     string
}

type recorded struct {
	Path          string
	Header        http.Header
	Body          []byte
	ContentLength int64
}

func newUpstream(t testing.TB) *upstream {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: l.Addr().String()}
	u.srv = &http.Server{Handler: u}
	go func() { _ = u.srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = u.srv.Shutdown(ctx)
	})
	return u
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.requests = append(u.requests, recorded{r.URL.Path, r.Header.Clone(), body, r.ContentLength})
	status, hold := u.status, u.hold
	u.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if status == resetConnection {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0) // close with a reset
			}
			conn.Close()
		}
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"seen":%d,"sha256":"%x"}`, len(body), sha256.Sum256(body))
}

// resetConnection, given to set, makes the upstream reset the connection
// instead of answering.
const resetConnection = -1

// set changes how the upstream answers from now on.
func (u *upstream) set(status int, hold chan struct{}) {
	u.mu.Lock()
	u.status, u.hold = status, hold
	u.mu.Unlock()
}

// count returns how many requests reached path.
func (u *upstream) count(path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, r := range u.requests {
		if r.Path == path {
			n++
		}
	}
	return n
}

// last returns the last request that reached path.
func (u *upstream) last(t testing.TB, path string) recorded {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := len(u.requests) - 1; i >= 0; i-- {
		if u.requests[i].Path == path {
			return u.requests[i]
		}
	}
	t.Fatalf("no request reached %s", path)
	return recorded{}
}

// syncBuffer is a bytes.Buffer safe for a process's two output streams.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// repoFile returns the path of a file relative to the repository root.
func repoFile(parts ...string) string {
	return filepath.Join(append([]string{".."}, parts...)...)
}

// answer is a response read whole.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

// send posts body to url with headers and reads the whole answer. It may
// run in any goroutine: a transport error fails the test and returns a
// zero answer.
func send(t testing.TB, url string, header http.Header, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return answer{}
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, strings.TrimSpace(string(b))}
}

// do sends a request with any method and reads the whole answer.
func do(t testing.TB, method, target string, header http.Header, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, strings.TrimSpace(string(b))}
}

// post is send for loops that count outcomes: it returns the answer, with
// a transport error instead of failing the test.
func post(client *http.Client, url string, header http.Header, body []byte) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, strings.TrimSpace(string(b))}, err
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
