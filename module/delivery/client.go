package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

const (
	// clientDefaultTimeout is the attempt timeout when Client is given
	// none: the dispatch timeout's default.
	clientDefaultTimeout = 10 * time.Second

	// clientMaxHeaderBytes bounds a response's headers.
	clientMaxHeaderBytes = 64 << 10

	// readCapDrain is how much of a body ReadCapped discards past its cap
	// so that the connection can be reused.
	readCapDrain = 64 << 10
)

// Client returns an HTTP client for delivery attempts that enforces the
// policy on every connection:
//
//   - each request's URL must pass the scheme, host and userinfo rules of
//     CheckURL (the address and port rules are applied when dialling);
//   - the host is resolved, every answer is checked with CheckIP and the
//     port rules, and only a checked address is dialled; blocked answers
//     are skipped, and if none is left the error wraps ErrBlockedAddress
//     (or ErrPort). The dialer's ControlContext checks the socket's actual
//     address again, so DNS rebinding cannot slip an address past the
//     check;
//   - proxies are never used: HTTP_PROXY, HTTPS_PROXY and NO_PROXY are
//     ignored;
//   - redirects are never followed: a 3xx response is returned as it is,
//     with its body, for the caller to record as a failed attempt;
//   - TLS certificates are verified (TLS 1.2 or later);
//   - responses are not decompressed: the transport never asks for gzip,
//     and a body the server compresses anyway is returned as sent, so a
//     gzip bomb is never inflated. Read bodies with ReadCapped.
//
// timeout bounds one whole attempt, from dialling to reading the body's
// end (10s if timeout <= 0); the dial, TLS handshake and wait for response
// headers are each bounded by it too. Up to 64 idle connections per host
// are kept alive, so that each worker delivering to a busy endpoint keeps
// its own.
//
// Error messages carry the request URL without its password (as
// net/http's do), but with its query: callers that log them should
// redact endpoint URLs whose queries hold tokens.
func (p Policy) Client(timeout time.Duration) *http.Client {
	return p.client(timeout, defaultLookup, hostAddrs)
}

// lookupFunc resolves host to IP addresses; network is "ip", "ip4" or
// "ip6".
type lookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// defaultLookup resolves with the system resolver.
func defaultLookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

// client builds Client's result with an injected resolver and set of the
// host's own addresses.
func (p Policy) client(timeout time.Duration, lookup lookupFunc, self *selfAddrs) *http.Client {
	if timeout <= 0 {
		timeout = clientDefaultTimeout
	}
	g := &dialGuard{policy: p, lookup: lookup, self: self}
	g.dialer = &net.Dialer{
		Timeout:        timeout,
		KeepAlive:      30 * time.Second,
		ControlContext: g.control,
	}
	tr := &http.Transport{
		Proxy:                 nil, // never: an environment proxy must not skip the guard
		DialContext:           g.dialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: min(timeout, time.Second),
		DisableCompression:    true,
		// Keep a connection per worker alive to each endpoint's host, so
		// a busy endpoint is not redialled for every delivery.
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: clientMaxHeaderBytes,
		ForceAttemptHTTP2:      true,
	}
	// The timeout is the transport's, not the Client's: http.Client
	// enforces its Timeout for a RoundTripper it does not know with a
	// goroutine, a timer and two channels per request.
	return &http.Client{
		Transport: &guardedTransport{policy: p, base: tr, timeout: timeout},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// AttemptTimeout is the bound a Client from Policy.Client puts on one
// attempt, or c.Timeout for any other client.
func AttemptTimeout(c *http.Client) time.Duration {
	if g, ok := c.Transport.(*guardedTransport); ok {
		return g.timeout
	}
	return c.Timeout
}

// guardedTransport applies the request-level URL rules before handing the
// request to the dialling transport, and bounds each exchange, from
// dialling to the response body's end, by timeout.
type guardedTransport struct {
	policy  Policy
	base    *http.Transport
	timeout time.Duration
}

// RoundTrip implements http.RoundTripper.
func (t *guardedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.policy.checkRequestURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, t.explain(ctx, err)
	}
	resp.Body = &timedBody{ReadCloser: resp.Body, ctx: ctx, cancel: cancel, t: t}
	return resp, nil
}

// explain marks err, from an exchange under ctx, as the timeout's doing if
// ctx's deadline has passed.
func (t *guardedTransport) explain(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &attemptTimeout{after: t.timeout, err: err}
	}
	return err
}

// attemptTimeout is an exchange cut short by the attempt's timeout.
type attemptTimeout struct {
	after time.Duration
	err   error
}

func (e *attemptTimeout) Error() string {
	return fmt.Sprintf("%v (the attempt's %v timeout ran out)", e.err, e.after)
}
func (e *attemptTimeout) Unwrap() error { return e.err }
func (e *attemptTimeout) Timeout() bool { return true }

// timedBody is a response body read under its exchange's context, which
// it ends when it is closed.
type timedBody struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
	t      *guardedTransport
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = b.t.explain(b.ctx, err)
	}
	return n, err
}

func (b *timedBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// pool.
func (t *guardedTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// dialGuard resolves, checks and dials.
type dialGuard struct {
	policy Policy
	lookup lookupFunc
	self   *selfAddrs
	dialer *net.Dialer
}

// dialContext resolves addr's host, checks every answer and dials the
// checked addresses in order until one connects.
func (g *dialGuard) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	family := ""
	switch network {
	case "tcp":
		family = "ip"
	case "tcp4":
		family = "ip4"
	case "tcp6":
		family = "ip6"
	default:
		return nil, fmt.Errorf("%w: network %q", ErrBlockedAddress, network)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%w: port %q", ErrPort, portStr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = g.lookup(ctx, family, host); err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		ip = ip.Unmap()
		if (family == "ip4" && !ip.Is4()) || (family == "ip6" && !ip.Is6()) {
			continue
		}
		ap := netip.AddrPortFrom(ip, uint16(port))
		if err := g.policy.checkAddrPort(ap, g.self); err != nil {
			errs = append(errs, err)
			continue
		}
		tcp := "tcp4"
		if ip.Is6() {
			tcp = "tcp6"
		}
		conn, err := g.dialer.DialContext(ctx, tcp, ap.String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("dial %s: no %s addresses", host, family)
	}
	return nil, fmt.Errorf("dial %s: %w", host, errors.Join(errs...))
}

// control is the dialer's ControlContext: it checks the address the socket
// is about to connect to.
func (g *dialGuard) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %q", ErrBlockedAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q", ErrBlockedAddress, address)
	}
	return g.policy.checkAddrPort(ap, g.self)
}

// readChunks holds ReadCapped's read buffers, so that an attempt does not
// allocate one.
var readChunks = sync.Pool{New: func() any { return new([4 << 10]byte) }}

// ReadCapped reads the first n characters of r, for a delivery log, and
// returns them as valid UTF-8: an invalid byte becomes U+FFFD, which counts
// as one character. It never holds more than 4n+4 bytes of r in memory,
// whatever r claims its length is. After the cap it discards up to 64 KiB
// more, so that a short overrun does not cost the connection; the caller
// still closes the body, and a longer body then closes the connection
// rather than reading it all.
//
// The error is the read error before the cap, if any (not io.EOF), with
// what was read so far. Errors while discarding are ignored. n <= 0 reads
// nothing but still discards.
//
// ReadCapped never decompresses: with the Client, a gzip-encoded body is
// returned as its compressed bytes.
func ReadCapped(r io.Reader, n int) (string, error) {
	defer func() { _, _ = io.CopyN(io.Discard, r, readCapDrain) }()
	if n <= 0 {
		return "", nil
	}
	limit := 4*n + 4
	if n > (int(^uint(0)>>1)-4)/4 {
		limit = int(^uint(0) >> 1)
	}
	var (
		out   strings.Builder
		chars int
		read  int
		buf   []byte // undecoded bytes: at most one partial rune
		pool  = readChunks.Get().(*[4 << 10]byte)
		chunk = pool[:min(limit, len(pool))]
	)
	defer readChunks.Put(pool)
	for chars < n && read < limit {
		k, err := r.Read(chunk[:min(len(chunk), limit-read)])
		read += k
		buf = append(buf, chunk[:k]...)
		final := err != nil || read >= limit
		for len(buf) > 0 && chars < n {
			if !final && !utf8.FullRune(buf) {
				break
			}
			c, size := utf8.DecodeRune(buf)
			if c == utf8.RuneError && size <= 1 {
				out.WriteRune(utf8.RuneError)
			} else {
				out.Write(buf[:size])
			}
			buf = buf[size:]
			chars++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return out.String(), err
		}
	}
	return out.String(), nil
}
