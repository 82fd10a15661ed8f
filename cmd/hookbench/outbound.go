package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookguard/hookguard/module/signature"
)

type outboundOptions struct {
	Events      int
	Concurrency int
	// Drain bounds the wait for deliveries once intake is done.
	Drain time.Duration
	Caddy string
	Store benchStore
	// Profile, if set, is where a CPU profile of Caddy's first 10 seconds
	// of load is written.
	Profile string
}

// outboundReport is what the outbound mode measured.
type outboundReport struct {
	Storage      string  `json:"storage"`
	Events       int     `json:"events"`
	Acked        int     `json:"acked"`
	IntakeErrors int     `json:"intake_errors"`
	IntakePerSec float64 `json:"intake_per_s"`
	// DeliveriesPerSec is from the first intake to the last arrival.
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	P50ms            float64 `json:"latency_p50_ms"`
	P99ms            float64 `json:"latency_p99_ms"`
	Lost             int     `json:"lost"`
	Duplicates       int     `json:"duplicates"`
	Unverified       int     `json:"unverified"`
	PeakRSSMB        float64 `json:"peak_rss_mb"`
	CPUSeconds       float64 `json:"cpu_seconds"`
	// BenchCPUSeconds is this tool's own CPU time over the run: the
	// intake client and the sink share the machine with Caddy.
	BenchCPUSeconds float64 `json:"bench_cpu_seconds"`
}

func (r outboundReport) failures() int { return r.IntakeErrors + r.Lost + r.Unverified }

func (r outboundReport) print(w io.Writer) {
	fmt.Fprintf(w, "storage %s: events %d, acknowledged %d, intake errors %d\n", r.Storage, r.Events, r.Acked, r.IntakeErrors)
	fmt.Fprintf(w, "intake %.0f/s, end to end %.0f deliveries/s\n", r.IntakePerSec, r.DeliveriesPerSec)
	fmt.Fprintf(w, "intake-to-arrival latency p50 %.1f ms, p99 %.1f ms\n", r.P50ms, r.P99ms)
	fmt.Fprintf(w, "lost %d, duplicates %d, unverified %d\n", r.Lost, r.Duplicates, r.Unverified)
	fmt.Fprintf(w, "caddy peak RSS %.1f MB, CPU %.1f s (%.0f µs per event); hookbench CPU %.1f s (%.0f µs per event)\n",
		r.PeakRSSMB, r.CPUSeconds, perEvent(r.CPUSeconds, r.Acked), r.BenchCPUSeconds, perEvent(r.BenchCPUSeconds, r.Acked))
}

// perEvent is seconds spread over n events, in microseconds.
func perEvent(seconds float64, n int) float64 {
	return seconds / float64(max(n, 1)) * 1e6
}

// sink receives deliveries, verifies each with the Standard Webhooks
// scheme, and records when each event first arrived.
type sink struct {
	scheme   *signature.Scheme
	secret   signature.Secret
	mu       sync.Mutex
	arrived  map[string]time.Time
	dups     int
	bad      atomic.Int64
	lastSeen atomic.Int64 // unix nanos of the latest arrival
}

// The sink and the intake client speak HTTP/1.1 over kept-alive
// connections with net/http's parsers (http.ReadRequest, ReadResponse)
// but none of its server or transport: those cost this tool, which shares
// the machine with the Caddy it measures, about a third more CPU per
// event (goroutine hand-offs per request, response writers).

// serve answers deliveries on l, a goroutine per connection.
func (s *sink) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go s.serveConn(c)
	}
}

// serveConn answers the requests on c until it closes or one cannot be
// read whole, which closes it: Caddy then counts a failed attempt.
func (s *sink) serveConn(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	for {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		if s.receive(req, body) {
			_, err = w.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
		} else {
			_, err = w.WriteString("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}
		if err != nil || w.Flush() != nil {
			return
		}
	}
}

// receive verifies one delivery and records its event's first arrival;
// false means its signature did not verify.
func (s *sink) receive(r *http.Request, body []byte) bool {
	now := time.Now()
	res, err := s.scheme.Verify(signature.Request{Header: r.Header, Body: body, Method: r.Method}, []signature.Secret{s.secret}, now, 5*time.Minute)
	if err != nil {
		s.bad.Add(1)
		return false
	}
	s.mu.Lock()
	if _, seen := s.arrived[res.ID]; seen {
		s.dups++
	} else {
		s.arrived[res.ID] = now
	}
	s.mu.Unlock()
	s.lastSeen.Store(now.UnixNano())
	return true
}

// intakeConn POSTs events to Caddy's webhook_dispatch over one kept-alive
// connection, dialling again after a failure.
type intakeConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
}

// post sends one event body and returns the ID of the accepted event.
func (ic *intakeConn) post(body string) (string, error) {
	if ic.c == nil {
		c, err := net.Dial("tcp", ic.addr)
		if err != nil {
			return "", err
		}
		ic.c, ic.r = c, bufio.NewReader(c)
	}
	id, keep, err := ic.exchange(body)
	if !keep {
		ic.c.Close()
		ic.c = nil
	}
	return id, err
}

// exchange makes one request on the open connection; keep is false when
// the connection cannot carry another.
func (ic *intakeConn) exchange(body string) (id string, keep bool, err error) {
	req := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", ic.addr, len(body), body)
	if _, err := io.WriteString(ic.c, req); err != nil {
		return "", false, err
	}
	resp, err := http.ReadResponse(ic.r, nil)
	if err != nil {
		return "", false, err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", false, err
	}
	var ev struct{ ID string }
	if err := json.Unmarshal(b, &ev); err != nil || resp.StatusCode != http.StatusAccepted {
		return "", !resp.Close, fmt.Errorf("intake answered %s: %s", resp.Status, b)
	}
	return ev.ID, !resp.Close, nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrived)
}

func runOutbound(o outboundOptions) (outboundReport, error) {
	rep := outboundReport{Storage: o.Store.kind(), Events: o.Events}
	if o.Events < 1 || o.Concurrency < 1 {
		return rep, fmt.Errorf("-n and -c must be at least 1")
	}
	dir, err := os.MkdirTemp("", "hookbench-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)

	scheme, _ := signature.Lookup("standard")
	secret, err := scheme.ParseSecret(benchSecret)
	if err != nil {
		return rep, err
	}
	sk := &sink{scheme: scheme, secret: secret, arrived: map[string]time.Time{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rep, err
	}
	defer l.Close()
	go sk.serve(l)

	if err := o.Store.start(dir); err != nil {
		return rep, err
	}
	defer o.Store.stop()
	proc, err := startCaddy(o.Caddy, dir, func(listen, badgerDir string) string {
		return fmt.Sprintf(`{
	webhooks {
		%s
		dispatch {
			allow_networks 127.0.0.0/8
			allow_http
		}
		endpoint sink http://%s/hook {
			secret %s
		}
	}
}
http://%s {
	webhook_dispatch
}
`, o.Store.line(badgerDir), l.Addr(), benchSecret, listen)
	})
	if err != nil {
		return rep, err
	}
	defer func() { _ = proc.Process.Kill(); _ = proc.Wait() }()

	profiled := profileCaddy(proc.admin, o.Profile, 10*time.Second)
	var (
		mu      sync.Mutex
		sentAt  = make(map[string]time.Time, o.Events)
		next    atomic.Int64
		errs    atomic.Int64
		wg      sync.WaitGroup
		started = time.Now()
		cpu0    = selfCPU()
	)
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ic := &intakeConn{addr: strings.TrimPrefix(proc.base, "http://")}
			defer func() {
				if ic.c != nil {
					ic.c.Close()
				}
			}()
			for n := next.Add(1); n <= int64(o.Events); n = next.Add(1) {
				t0 := time.Now()
				id, err := ic.post(fmt.Sprintf(`{"type":"bench.event","data":{"n":%d}}`, n))
				if err != nil {
					errs.Add(1)
					continue
				}
				mu.Lock()
				sentAt[id] = t0
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	intakeDone := time.Now()
	rep.Acked, rep.IntakeErrors = len(sentAt), int(errs.Load())
	rep.IntakePerSec = float64(rep.Acked) / intakeDone.Sub(started).Seconds()

	// Wait for every acknowledged event, or until nothing arrives for a
	// while within the drain bound.
	deadline := time.Now().Add(o.Drain)
	for sk.count() < rep.Acked && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	sk.mu.Lock()
	var lat []time.Duration
	for id, t0 := range sentAt {
		if at, ok := sk.arrived[id]; ok {
			lat = append(lat, at.Sub(t0))
		} else {
			rep.Lost++
		}
	}
	rep.Duplicates = sk.dups
	sk.mu.Unlock()
	rep.BenchCPUSeconds = selfCPU() - cpu0
	rep.Unverified = int(sk.bad.Load())
	if last := sk.lastSeen.Load(); last > 0 {
		rep.DeliveriesPerSec = float64(len(lat)) / time.Unix(0, last).Sub(started).Seconds()
	}
	slices.Sort(lat)
	rep.P50ms, rep.P99ms = quantile(lat, 0.50), quantile(lat, 0.99)
	if err := profiled(); err != nil {
		return rep, err
	}
	rep.PeakRSSMB, rep.CPUSeconds = procStats(proc.Process.Pid)
	return rep, nil
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	_, _ = w.Write(buf.Bytes())
}
