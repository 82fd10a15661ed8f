package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hookguard/hookguard/module/signature"
)

const (
	defaultDuration = 5 * time.Second
	defaultWarmup   = 2 * time.Second
	benchSecret     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

type inboundOptions struct {
	Concurrency int
	// Rate, if above 0, makes each run open-loop: requests are sent at
	// this many a second whatever the answers' pace, by up to Concurrency
	// connections, and each latency counts from when its request was due.
	Rate      float64
	Duration  time.Duration
	Rounds    int
	Warmup    time.Duration
	BodyBytes int
	Caddy     string
	Store     benchStore
	// Profile, if set, is where a CPU profile of Caddy during the
	// measured rounds is written.
	Profile string
}

// routeResult is one measured run of one route.
type routeResult struct {
	Route    string  `json:"route"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	P999ms   float64 `json:"p999_ms"`
	// CaddyCPUus and BenchCPUus are the CPU time Caddy and this tool
	// (load generator and upstream) spent per answered request.
	CaddyCPUus float64 `json:"caddy_cpu_us_per_req"`
	BenchCPUus float64 `json:"bench_cpu_us_per_req"`
}

// inboundReport is what the inbound mode measured.
type inboundReport struct {
	Storage     string        `json:"storage"`
	Concurrency int           `json:"concurrency"`
	Rate        float64       `json:"rate,omitempty"`
	BodyBytes   int           `json:"body_bytes"`
	Runs        []routeResult `json:"runs"`
	// Ratio is the median over rounds of verified/plain throughput; at a
	// fixed Rate both routes answer that rate, so it says only whether
	// they kept up.
	Ratio float64 `json:"verified_plain_ratio"`
	// AddedP50ms and AddedP99ms are the medians over rounds of the
	// verified route's p50 and p99 minus the plain route's.
	AddedP50ms float64 `json:"added_p50_ms"`
	AddedP99ms float64 `json:"added_p99_ms"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

// Errors counts failed requests over all runs.
func (r inboundReport) Errors() int {
	n := 0
	for _, run := range r.Runs {
		n += run.Errors
	}
	return n
}

func (r inboundReport) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "route\trequests\terrors\trps\tp50 ms\tp99 ms\tp99.9 ms\tcaddy CPU µs/req\tbench CPU µs/req\t\n")
	for _, run := range r.Runs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.0f\t%.0f\t\n", run.Route, run.Requests, run.Errors, run.RPS, run.P50ms, run.P99ms, run.P999ms, run.CaddyCPUus, run.BenchCPUus)
	}
	_ = tw.Flush()
	if r.Rate > 0 {
		fmt.Fprintf(w, "\nstorage %s, open loop at %.0f requests/s over up to %d connections, %d-byte bodies\n", r.Storage, r.Rate, r.Concurrency, r.BodyBytes)
	} else {
		fmt.Fprintf(w, "\nstorage %s, concurrency %d, %d-byte bodies\n", r.Storage, r.Concurrency, r.BodyBytes)
	}
	fmt.Fprintf(w, "verified/plain throughput (median of rounds): %.3f\n", r.Ratio)
	fmt.Fprintf(w, "added p50 (median of rounds): %.2f ms\n", r.AddedP50ms)
	fmt.Fprintf(w, "added p99 (median of rounds): %.2f ms\n", r.AddedP99ms)
	fmt.Fprintf(w, "caddy peak RSS %.1f MB, CPU %.1f s\n", r.PeakRSSMB, r.CPUSeconds)
}

func runInbound(o inboundOptions) (inboundReport, error) {
	rep := inboundReport{Storage: o.Store.kind(), Concurrency: o.Concurrency, Rate: o.Rate, BodyBytes: o.BodyBytes}
	if o.Concurrency < 1 || o.Rounds < 1 || o.BodyBytes < 16 || o.Rate < 0 {
		return rep, fmt.Errorf("-c and -rounds must be at least 1, -body at least 16, -rate not negative")
	}
	dir, err := os.MkdirTemp("", "hookbench-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)

	upstream, err := startUpstream()
	if err != nil {
		return rep, err
	}
	defer upstream.Close()
	up := upstream.Addr().String()
	if err := o.Store.start(dir); err != nil {
		return rep, err
	}
	defer o.Store.stop()
	proc, err := startCaddy(o.Caddy, dir, func(listen, badgerDir string) string {
		return fmt.Sprintf(`{
	webhooks {
		%s
	}
}
http://%s {
	handle /plain {
		reverse_proxy %s
	}
	handle /verified {
		webhook_verify standard {
			secret %s
		}
		reverse_proxy %s
	}
}
`, o.Store.line(badgerDir), listen, up, benchSecret, up)
	})
	if err != nil {
		return rep, err
	}
	defer func() { _ = proc.Process.Kill(); _ = proc.Wait() }()

	scheme, _ := signature.Lookup("standard")
	secret, err := scheme.ParseSecret(benchSecret)
	if err != nil {
		return rep, err
	}
	gen := &requests{scheme: scheme, secret: secret, body: bytes.Repeat([]byte("x"), o.BodyBytes)}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency, MaxConnsPerHost: o.Concurrency}}

	routes := []string{"plain", "verified"}
	expected := 0.0 // the rps a run is expected to reach
	for _, route := range routes {
		res := load(client, proc.base+"/"+route, gen, o.Concurrency, o.Rate, o.Warmup/2)
		expected = max(expected, 1000, res.RPS)
	}
	profiled := profileCaddy(proc.admin, o.Profile, time.Duration(2*o.Rounds)*o.Duration)
	var ratios, added50, added99 []float64
	for round := range o.Rounds {
		order := routes
		if round%2 == 1 {
			order = []string{"verified", "plain"}
		}
		byRoute := map[string]routeResult{}
		for _, route := range order {
			// Enough for the run at one and a half times the rate seen.
			if err := gen.presign(int(1.5 * expected * o.Duration.Seconds())); err != nil {
				return rep, err
			}
			_, caddyBefore := procStats(proc.Process.Pid)
			benchBefore := selfCPU()
			res := load(client, proc.base+"/"+route, gen, o.Concurrency, o.Rate, o.Duration)
			_, caddyAfter := procStats(proc.Process.Pid)
			if n := float64(res.Requests - res.Errors); n > 0 {
				res.CaddyCPUus = (caddyAfter - caddyBefore) / n * 1e6
				res.BenchCPUus = (selfCPU() - benchBefore) / n * 1e6
			}
			res.Route = route
			expected = max(expected, res.RPS)
			byRoute[route] = res
			rep.Runs = append(rep.Runs, res)
		}
		if byRoute["plain"].RPS > 0 {
			ratios = append(ratios, byRoute["verified"].RPS/byRoute["plain"].RPS)
		}
		added50 = append(added50, byRoute["verified"].P50ms-byRoute["plain"].P50ms)
		added99 = append(added99, byRoute["verified"].P99ms-byRoute["plain"].P99ms)
	}
	rep.Ratio, rep.AddedP50ms, rep.AddedP99ms = median(ratios), median(added50), median(added99)
	if err := profiled(); err != nil {
		return rep, err
	}
	rep.PeakRSSMB, rep.CPUSeconds = procStats(proc.Process.Pid)
	return rep, nil
}

// requests makes uniquely signed Standard Webhooks requests, for both
// routes, so that they differ only in what Caddy does with them. presign
// signs a stock of them ahead of a measured run, so that the load
// generator's own HMAC work, which shares the CPU with Caddy, is not
// measured; next signs on the spot once the stock runs out.
type requests struct {
	scheme *signature.Scheme
	secret signature.Secret
	body   []byte
	n      atomic.Int64
	prefix string
	once   sync.Once

	stock []http.Header
	taken atomic.Int64
}

// maxStock bounds presign's stock (about 0.5 KB a request).
const maxStock = 200_000

// presign replaces the stock with n freshly signed requests.
func (g *requests) presign(n int) error {
	g.stock = make([]http.Header, min(n, maxStock))
	for i := range g.stock {
		h, err := g.sign()
		if err != nil {
			return err
		}
		g.stock[i] = h
	}
	g.taken.Store(0)
	return nil
}

// sign signs the next unique message.
func (g *requests) sign() (http.Header, error) {
	g.once.Do(func() {
		var b [6]byte
		_, _ = rand.Read(b[:])
		g.prefix = "msg_" + hex.EncodeToString(b[:]) + "_"
	})
	id := g.prefix + strconv.FormatInt(g.n.Add(1), 10)
	return g.scheme.Sign(signature.Message{ID: id, Timestamp: time.Now(), Body: g.body}, []signature.Secret{g.secret})
}

func (g *requests) next(url string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(g.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var h http.Header
	if i := g.taken.Add(1) - 1; i < int64(len(g.stock)) {
		h = g.stock[i]
	} else if h, err = g.sign(); err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return req, nil
}

// load drives url with c workers for d and measures the answers. With
// rate 0 it is a closed loop: each worker sends its next request as soon
// as the last is answered, and a latency counts from the send. With a rate
// it is open: requests fall due at that pace, the next free worker sends
// each, and a latency counts from when the request was due, so that time
// spent waiting for a free worker is not hidden.
func load(client *http.Client, url string, gen *requests, c int, rate float64, d time.Duration) routeResult {
	var (
		mu      sync.Mutex
		lat     []time.Duration
		errs    int
		wg      sync.WaitGroup
		started = time.Now()
		until   = started.Add(d)
		due     chan time.Time // open loop: when each request fell due
	)
	if rate > 0 {
		due = make(chan time.Time, c)
		interval := time.Duration(float64(time.Second) / rate)
		go func() {
			defer close(due)
			for at := started; at.Before(until); at = at.Add(interval) {
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				due <- at
			}
		}()
	}
	// next says when the worker's next request is sent from, and whether
	// there is one.
	next := func() (time.Time, bool) {
		if due == nil {
			now := time.Now()
			return now, now.Before(until)
		}
		at, ok := <-due
		return at, ok
	}
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			failed := 0
			for {
				t0, ok := next()
				if !ok {
					break
				}
				req, err := gen.next(url)
				if err != nil {
					failed++
					continue
				}
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != http.StatusOK {
					failed++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat, errs = append(lat, mine...), errs+failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	slices.Sort(lat)
	return routeResult{
		Requests: len(lat) + errs, Errors: errs,
		RPS:   float64(len(lat)) / elapsed.Seconds(),
		P50ms: quantile(lat, 0.50), P99ms: quantile(lat, 0.99), P999ms: quantile(lat, 0.999),
	}
}

func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]) / float64(time.Millisecond)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// startUpstream serves the trivial app both routes proxy to.
func startUpstream() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		}))
	}()
	return l, nil
}

// builtCaddy, if set, is the Caddy binary that runs without -caddy use
// instead of building one each: the tests build it once.
var builtCaddy string

// buildCaddy builds ./cmd/caddy to bin.
func buildCaddy(bin string) error {
	build := exec.Command("go", "build", "-o", bin, "github.com/hookguard/hookguard/cmd/caddy")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building cmd/caddy: %w", err)
	}
	return nil
}

// caddyProc is a running Caddy: its process, the base URL of its site and
// its admin address.
type caddyProc struct {
	*exec.Cmd
	base, admin string
}

// startCaddy runs Caddy (building ./cmd/caddy unless bin is given) with
// the Caddyfile that config returns for a listen address and a Badger
// directory, and returns once it listens.
func startCaddy(bin, dir string, config func(listen, badgerDir string) string) (*caddyProc, error) {
	if bin == "" {
		bin = builtCaddy
	}
	if bin == "" {
		bin = filepath.Join(dir, "caddy")
		if err := buildCaddy(bin); err != nil {
			return nil, err
		}
	}
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfg := config(listen, filepath.Join(dir, "badger"))
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", path)
	cmd.Env = append(os.Environ(), "CADDY_ADMIN="+admin, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", listen, 200*time.Millisecond); err == nil {
			conn.Close()
			return &caddyProc{Cmd: cmd, base: "http://" + listen, admin: admin}, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, fmt.Errorf("caddy never listened on %s:\n%s", listen, logs.String())
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// selfCPU is this process's CPU time so far, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// procStats reads a process's peak RSS (MB) and CPU time (s) from /proc.
func procStats(pid int) (rssMB, cpu float64) {
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				rssMB = kb / 1024
			}
		}
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name, which is in parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 {
			f := strings.Fields(string(stat[i+1:]))
			if len(f) > 12 {
				utime, _ := strconv.ParseFloat(f[11], 64)
				stime, _ := strconv.ParseFloat(f[12], 64)
				cpu = (utime + stime) / 100 // clock ticks; 100 per second on Linux
			}
		}
	}
	return rssMB, cpu
}
