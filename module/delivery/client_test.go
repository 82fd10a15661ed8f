package delivery

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// fakeDNS answers lookups from a script: each host has a list of answers,
// used in turn, the last one repeating.
type fakeDNS struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	calls   map[string]int
}

func newFakeDNS() *fakeDNS {
	return &fakeDNS{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
}

// set scripts host's answers, one string of comma-separated addresses per
// lookup.
func (d *fakeDNS) set(host string, answers ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var list [][]netip.Addr
	for _, a := range answers {
		var ips []netip.Addr
		for _, s := range strings.Split(a, ",") {
			ips = append(ips, netip.MustParseAddr(s))
		}
		list = append(list, ips)
	}
	d.answers[host] = list
}

func (d *fakeDNS) lookup(_ context.Context, _, host string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	list, ok := d.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(d.calls[host], len(list)-1)
	d.calls[host]++
	return list[i], nil
}

func (d *fakeDNS) lookups(host string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[host]
}

// countingServer is a loopback test server that counts its requests.
type countingServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// loopbackPolicy is what the end-to-end tests use to reach a local sink.
func loopbackPolicy() Policy {
	return Policy{AllowHTTP: true, AllowNetworks: mustPrefixes("127.0.0.0/8")}
}

func baseTransport(t *testing.T, c *http.Client) *http.Transport {
	t.Helper()
	g, ok := c.Transport.(*guardedTransport)
	if !ok {
		t.Fatalf("Transport is %T, want *guardedTransport", c.Transport)
	}
	return g.base
}

// TestClientRefusesLoopbackByDefault: with the strict default, a loopback
// server is refused when dialling and never sees a request.
func TestClientRefusesLoopbackByDefault(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)

	for name, c := range map[string]*http.Client{
		"Client":        Policy{}.Client(5 * time.Second),
		"injected self": Policy{}.client(5*time.Second, newFakeDNS().lookup, noSelf()),
	} {
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: GET %s succeeded, want refusal", name, srv.URL)
		}
		if !errors.Is(err, ErrBlockedAddress) {
			t.Fatalf("%s: GET %s = %v, want ErrBlockedAddress", name, srv.URL, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("server saw %d requests, want 0", n)
	}
}

// TestClientReachesAllowlistedLoopback: allow_networks 127.0.0.0/8 plus
// allow_http reaches a loopback sink on any port.
func TestClientReachesAllowlistedLoopback(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, nil)
	resp, err := loopbackPolicy().Client(5 * time.Second).Get(srv.URL + "/hook")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok" || srv.hits.Load() != 1 {
		t.Fatalf("got %d %q after %d hits, want 200 \"ok\" after 1", resp.StatusCode, body, srv.hits.Load())
	}
}

// TestClientRequestURLRules: scheme and userinfo are re-checked on every
// request, before any dial.
func TestClientRequestURLRules(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, nil)
	u, _ := url.Parse(srv.URL)

	strict := Policy{AllowNetworks: mustPrefixes("127.0.0.0/8")}
	if _, err := strict.Client(5 * time.Second).Get(srv.URL); !errors.Is(err, ErrScheme) {
		t.Errorf("http without allow_http: %v, want ErrScheme", err)
	}

	withUser := *u
	withUser.User = url.UserPassword("user", "hunter2")
	_, err := loopbackPolicy().Client(5 * time.Second).Get(withUser.String())
	if !errors.Is(err, ErrUserinfo) {
		t.Errorf("userinfo: %v, want ErrUserinfo", err)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q leaks the password", err)
	}
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("server saw %d requests, want 0", n)
	}
}

// TestClientBlockedThroughDNS covers case 39 through DNS: a name that
// resolves into any blocked range is refused before a connection is made.
// The refusal happens before connect(2), so no traffic leaves the machine.
func TestClientBlockedThroughDNS(t *testing.T) {
	t.Parallel()
	dns := newFakeDNS()
	var ips []string
	for _, pfx := range append(append(append([]netip.Prefix{}, alwaysBlocked...), blockedV4...), blockedV6...) {
		ip := pfx.Addr().Next()
		if !pfx.Contains(ip) { // a /32 or /128
			ip = pfx.Addr()
		}
		ips = append(ips, ip.String())
	}
	ips = append(ips, "::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::",
		"2001:0:4136:e378:8000:63bf:3fff:fdd2", "fd00:ec2::254", "100.100.100.200",
		"168.63.129.16", "255.255.255.255", "0.0.0.0")
	c := Policy{}.client(5*time.Second, dns.lookup, noSelf())
	for i, ip := range ips {
		// Safety net: never let this test dial an address the policy
		// allows, since that could be off this machine.
		if err := (Policy{}).checkIP(netip.MustParseAddr(ip), noSelf()); err == nil {
			t.Fatalf("%s is not blocked; refusing to make the request", ip)
		}
		host := "blocked" + strconv.Itoa(i) + ".test"
		dns.set(host, ip)
		resp, err := c.Get("https://" + host + "/")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s -> %s: request succeeded", host, ip)
		}
		if !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("%s -> %s: %v, want ErrBlockedAddress", host, ip, err)
		}
	}
}

// TestClientDNSRebinding covers case 41. The name first resolves to an
// allowed address (127.0.0.1, standing in for a public one, so no traffic
// leaves the machine), then to a blocked one (127.0.0.2): the second
// connection is refused on the actual dial.
func TestClientDNSRebinding(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := newFakeDNS()
	dns.set("rebind.test", "127.0.0.1", "127.0.0.2")
	p := Policy{AllowHTTP: true, AllowNetworks: mustPrefixes("127.0.0.1/32")}
	c := p.client(5*time.Second, dns.lookup, noSelf())
	target := "http://rebind.test:" + port + "/"

	resp, err := c.Get(target)
	if err != nil {
		t.Fatalf("first GET: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.CloseIdleConnections() // force a new dial, as a retry an hour later would

	resp, err = c.Get(target)
	if err == nil {
		resp.Body.Close()
		t.Fatal("second GET after rebinding succeeded")
	}
	if !errors.Is(err, ErrBlockedAddress) || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Fatalf("second GET: %v, want ErrBlockedAddress naming 127.0.0.2", err)
	}
	if got := dns.lookups("rebind.test"); got != 2 {
		t.Fatalf("lookups = %d, want 2 (one per dial)", got)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1", n)
	}
}

// TestClientMixedAnswers: blocked answers are skipped, only a checked
// address is dialled.
func TestClientMixedAnswers(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := newFakeDNS()
	dns.set("mixed.test", "169.254.169.254,127.0.0.2,127.0.0.1")
	p := Policy{AllowHTTP: true, AllowNetworks: mustPrefixes("127.0.0.1/32")}
	resp, err := p.client(5*time.Second, dns.lookup, noSelf()).Get("http://mixed.test:" + port + "/")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()
	if srv.hits.Load() != 1 {
		t.Fatalf("server saw %d requests, want 1", srv.hits.Load())
	}
}

// TestDialControl checks the ControlContext layer on its own: it sees the
// socket's actual address, so even a dial that bypasses the resolving step
// is refused.
func TestDialControl(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	strict := &dialGuard{policy: Policy{}, self: noSelf()}
	d := &net.Dialer{Timeout: 5 * time.Second, ControlContext: strict.control}
	if c, err := d.Dial("tcp4", ln.Addr().String()); !errors.Is(err, ErrBlockedAddress) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("strict dial to %s: %v, want ErrBlockedAddress", ln.Addr(), err)
	}
	allowed := &dialGuard{policy: loopbackPolicy(), self: noSelf()}
	d.ControlContext = allowed.control
	c, err := d.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatalf("allowlisted dial: %v", err)
	}
	c.Close()

	// Pure checks: nothing is dialled.
	ctx := context.Background()
	tests := []struct {
		network, addr string
		want          error
	}{
		{"tcp4", "8.8.8.8:443", nil},
		{"tcp4", "8.8.8.8:80", ErrPort},
		{"tcp4", "8.8.8.8:8443", ErrPort},
		{"tcp6", "[2606:4700:4700::1111]:443", nil},
		{"tcp6", "[::ffff:169.254.169.254]:443", ErrBlockedAddress},
		{"tcp6", "[fe80::1%eth0]:443", ErrBlockedAddress},
		{"udp4", "8.8.8.8:443", ErrBlockedAddress},
		{"tcp4", "not-an-address", ErrBlockedAddress},
	}
	for _, tt := range tests {
		if err := strict.control(ctx, tt.network, tt.addr, nil); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("control(%s, %s) = %v, want %v", tt.network, tt.addr, err, tt.want)
		}
	}
	withPorts := &dialGuard{policy: Policy{AllowHTTP: true, AllowPorts: []int{8443}}, self: noSelf()}
	for _, addr := range []string{"8.8.8.8:80", "8.8.8.8:8443"} {
		if err := withPorts.control(ctx, "tcp4", addr, nil); err != nil {
			t.Errorf("control(%s) with allow_http and allow_ports = %v, want nil", addr, err)
		}
	}
}

// TestClientDoesNotFollowRedirects covers case 42: the 3xx is returned and
// the redirect target never sees a request.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	target := newCountingServer(t, nil)
	origin := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/internal", http.StatusFound)
	})
	resp, err := loopbackPolicy().Client(5*time.Second).Post(origin.URL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != target.URL+"/internal" {
		t.Fatalf("got %d Location %q, want 302 to the target", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := target.hits.Load(); n != 0 {
		t.Fatalf("redirect target saw %d requests, want 0", n)
	}
}

// TestClientIgnoresProxyEnv covers case 43: an environment proxy is never
// contacted. The target is a name (resolved by the fake DNS), not a
// loopback literal, since net/http never proxies loopback literals anyway.
func TestClientIgnoresProxyEnv(t *testing.T) {
	proxy := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	sink := newCountingServer(t, nil)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"} {
		t.Setenv(k, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	_, port, _ := net.SplitHostPort(sink.Listener.Addr().String())
	dns := newFakeDNS()
	dns.set("sink.test", "127.0.0.1")
	c := loopbackPolicy().client(5*time.Second, dns.lookup, noSelf())
	if baseTransport(t, c).Proxy != nil {
		t.Fatal("transport has a Proxy func")
	}
	resp, err := c.Get("http://sink.test:" + port + "/")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || sink.hits.Load() != 1 || proxy.hits.Load() != 0 {
		t.Fatalf("status %d, sink hits %d, proxy hits %d; want 200, 1, 0", resp.StatusCode, sink.hits.Load(), proxy.hits.Load())
	}

}

// TestClientTLS covers case 50: certificates are verified, and a trusted
// server is reached over HTTP/2.
func TestClientTLS(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p := Policy{AllowNetworks: mustPrefixes("127.0.0.0/8")}

	_, err := p.Client(5 * time.Second).Get(srv.URL)
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Fatalf("GET with an untrusted certificate: %v, want a certificate verification error", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the handler ran despite the bad certificate")
	}

	c := p.Client(5 * time.Second)
	tr := baseTransport(t, c)
	tr.TLSClientConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET with a trusted certificate: %v", err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
}

// TestClientSettings pins the transport's settings.
func TestClientSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want time.Duration
	}{{0, 10 * time.Second}, {-time.Second, 10 * time.Second}, {2 * time.Second, 2 * time.Second}, {time.Minute, time.Minute}} {
		c := Policy{}.Client(tt.in)
		tr := baseTransport(t, c)
		switch {
		case AttemptTimeout(c) != tt.want:
			t.Errorf("AttemptTimeout(Client(%v)) = %v, want %v", tt.in, AttemptTimeout(c), tt.want)
		case c.Timeout != 0:
			t.Errorf("Client(%v).Timeout = %v: http.Client would spend a goroutine per request on it", tt.in, c.Timeout)
		case tr.TLSHandshakeTimeout <= 0 || tr.TLSHandshakeTimeout > tt.want:
			t.Errorf("Client(%v) TLSHandshakeTimeout = %v", tt.in, tr.TLSHandshakeTimeout)
		case tr.ResponseHeaderTimeout <= 0 || tr.ResponseHeaderTimeout > tt.want:
			t.Errorf("Client(%v) ResponseHeaderTimeout = %v", tt.in, tr.ResponseHeaderTimeout)
		case tr.Proxy != nil:
			t.Error("Proxy is set")
		case !tr.DisableCompression:
			t.Error("DisableCompression is false")
		case !tr.ForceAttemptHTTP2:
			t.Error("ForceAttemptHTTP2 is false")
		case tr.TLSClientConfig.InsecureSkipVerify:
			t.Error("InsecureSkipVerify is true")
		case tr.MaxIdleConnsPerHost < 32 || tr.MaxIdleConnsPerHost > 64 || tr.MaxIdleConns < tr.MaxIdleConnsPerHost:
			t.Errorf("MaxIdleConnsPerHost = %d", tr.MaxIdleConnsPerHost)
		case tr.MaxResponseHeaderBytes <= 0:
			t.Error("MaxResponseHeaderBytes unbounded")
		case c.CheckRedirect == nil || c.CheckRedirect(nil, nil) != http.ErrUseLastResponse:
			t.Error("CheckRedirect does not return http.ErrUseLastResponse")
		}
	}
}

// TestClientTimeout: an endpoint that never answers fails the attempt
// after the timeout.
func TestClientTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newCountingServer(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	_, err := loopbackPolicy().Client(100 * time.Millisecond).Get(srv.URL)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("GET: %v, want a timeout", err)
	}
}

// TestClientTimeoutCoversBody: an endpoint that sends its headers and then
// stalls its body fails the attempt's body read after the timeout, and
// closing the body ends the exchange.
func TestClientTimeoutCoversBody(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(5 * time.Second): // no timeout: fail, don't hang
		}
	})
	defer close(release)
	start := time.Now()
	resp, err := loopbackPolicy().Client(200 * time.Millisecond).Get(srv.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	body, err := ReadCapped(resp.Body, 1000)
	elapsed := time.Since(start)
	if cerr := resp.Body.Close(); cerr != nil {
		t.Errorf("closing the body: %v", cerr)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || body != "partial" || !strings.Contains(err.Error(), "attempt's 200ms timeout ran out") {
		t.Fatalf("ReadCapped = %q, %v; want \"partial\" and the attempt's timeout", body, err)
	}
	if elapsed > 4*time.Second {
		t.Errorf("the body read took %v with a 200ms timeout", elapsed)
	}
}

// readCounter counts the bytes read through it.
type readCounter struct {
	r io.Reader
	n int64
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestClientHugeBody covers case 45's size half: a body that claims 1 GiB,
// or never ends, is read up to the cap plus the bounded drain.
func TestClientHugeBody(t *testing.T) {
	t.Parallel()
	const logCap = 4000
	for _, declared := range []bool{true, false} {
		srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
			if declared {
				w.Header().Set("Content-Length", strconv.Itoa(1<<30))
			}
			chunk := bytes.Repeat([]byte("é"), 16<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
		resp, err := loopbackPolicy().Client(5 * time.Second).Get(srv.URL)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		cr := &readCounter{r: resp.Body}
		got, err := ReadCapped(cr, logCap)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("ReadCapped: %v", err)
		}
		if n := utf8.RuneCountInString(got); n != logCap || got != strings.Repeat("é", logCap) {
			t.Fatalf("declared=%v: got %d characters, want %d 'é'", declared, n, logCap)
		}
		if max := int64(4*logCap + 4 + readCapDrain); cr.n > max {
			t.Fatalf("declared=%v: read %d bytes of the body, want at most %d", declared, cr.n, max)
		}
	}
}

// TestClientGzipNotInflated covers case 45's bomb half: the client never
// asks for compression, and a gzip body is returned compressed.
func TestClientGzipNotInflated(t *testing.T) {
	t.Parallel()
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestSpeed)
	zeros := make([]byte, 1<<20)
	for range 16 { // 16 MiB inflated
		zw.Write(zeros)
	}
	zw.Close()

	var acceptEncoding atomic.Value
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		acceptEncoding.Store(r.Header.Get("Accept-Encoding"))
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "text/plain")
		w.Write(bomb.Bytes())
	})
	resp, err := loopbackPolicy().Client(5 * time.Second).Get(srv.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	if ae := acceptEncoding.Load().(string); ae != "" {
		t.Errorf("request carried Accept-Encoding %q, want none", ae)
	}
	if resp.Uncompressed || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("Uncompressed=%v Content-Encoding=%q, want the body left compressed", resp.Uncompressed, resp.Header.Get("Content-Encoding"))
	}
	cr := &readCounter{r: resp.Body}
	got, err := ReadCapped(cr, 4000)
	if err != nil {
		t.Fatalf("ReadCapped: %v", err)
	}
	if !strings.HasPrefix(got, "\x1f\uFFFD") || !utf8.ValidString(got) || utf8.RuneCountInString(got) > 4000 {
		t.Fatalf("ReadCapped = %q..., want the gzip bytes as at most 4000 valid characters", got[:min(8, len(got))])
	}
	if cr.n != int64(bomb.Len()) {
		t.Fatalf("read %d bytes, want the %d compressed bytes", cr.n, bomb.Len())
	}
}

// failAfterReader returns data, then err.
type failAfterReader struct {
	data []byte
	err  error
}

func (e *failAfterReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

// xStream is a reader that never ends.
type xStream struct{}

func (xStream) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestReadCapped(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		r       func() io.Reader
		n       int
		want    string
		wantErr error
	}{
		{"short", func() io.Reader { return strings.NewReader("hello") }, 10, "hello", nil},
		{"empty", func() io.Reader { return strings.NewReader("") }, 10, "", nil},
		{"exact", func() io.Reader { return strings.NewReader("hello") }, 5, "hello", nil},
		{"cut", func() io.Reader { return strings.NewReader("hello, world") }, 5, "hello", nil},
		{"zero", func() io.Reader { return strings.NewReader("hello") }, 0, "", nil},
		{"negative", func() io.Reader { return strings.NewReader("hello") }, -1, "", nil},
		{"multibyte", func() io.Reader { return strings.NewReader("ééééé") }, 3, "ééé", nil},
		{"four-byte runes one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader("😀😀😀😀")) }, 3, "😀😀😀", nil},
		{"mixed widths", func() io.Reader { return iotest.HalfReader(strings.NewReader("aé€😀b")) }, 4, "aé€😀", nil},
		{"invalid bytes", func() io.Reader { return strings.NewReader("a\xffb\xc3") }, 10, "a\uFFFDb\uFFFD", nil},
		{"invalid bytes counted", func() io.Reader { return strings.NewReader("\xff\xff\xff\xffabc") }, 5, "\uFFFD\uFFFD\uFFFD\uFFFDa", nil},
		{"truncated rune at cap", func() io.Reader { return strings.NewReader("ab\xe2\x82") }, 3, "ab\uFFFD", nil},
		{"error before cap", func() io.Reader { return &failAfterReader{data: []byte("par"), err: boom} }, 10, "par", boom},
		{"error after cap", func() io.Reader { return &failAfterReader{data: []byte("hello"), err: boom} }, 5, "hello", nil},
		{"timeout error", func() io.Reader { return iotest.TimeoutReader(strings.NewReader("abc")) }, 10, "abc", iotest.ErrTimeout},
		{"endless", func() io.Reader { return xStream{} }, 5, "xxxxx", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadCapped(tt.r(), tt.n)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("ReadCapped = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("ReadCapped = %q, not valid UTF-8", got)
			}
		})
	}
}

// TestReadCappedBounds: the cap on bytes read, and the bounded drain.
func TestReadCappedBounds(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 7, 4000, 100000} {
		for _, body := range []string{"x", "\xff", "😀"} {
			cr := &readCounter{r: repeatStream(body)}
			got, err := ReadCapped(cr, n)
			if err != nil {
				t.Fatal(err)
			}
			if c := utf8.RuneCountInString(got); c != max(n, 0) {
				t.Fatalf("n=%d body %q: %d characters", n, body, c)
			}
			if lim := int64(4*n + 4 + readCapDrain); cr.n > lim {
				t.Fatalf("n=%d body %q: read %d bytes, want at most %d", n, body, cr.n, lim)
			}
		}
	}
	// A body that ends within the drain is read to its end, so the
	// connection can be reused.
	r := strings.NewReader(strings.Repeat("x", 4000+readCapDrain-1))
	if _, err := ReadCapped(r, 4000); err != nil || r.Len() != 0 {
		t.Fatalf("drain left %d bytes (err %v), want 0", r.Len(), err)
	}
}

// repeatStream repeats s forever.
func repeatStream(s string) io.Reader {
	return &repeatStreamReader{s: []byte(s)}
}

type repeatStreamReader struct {
	s []byte
	i int
}

func (r *repeatStreamReader) Read(p []byte) (int, error) {
	for k := range p {
		p[k] = r.s[r.i%len(r.s)]
		r.i++
	}
	return len(p), nil
}
