package delivery

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"code.dny.dev/ssrf"
)

// The errors CheckURL, CheckIP and the Client's transport return, compared
// with errors.Is. Each is wrapped with detail (the scheme, the address and
// the range that matched, the port) but never with the URL's userinfo, path
// or query, which may hold credentials.
var (
	// ErrBadURL means the endpoint URL is not an absolute http(s) URL with a
	// host, its port is not a number from 1 to 65535, or its host is a
	// number-like name that is not a valid IPv4 address or is an IPv4
	// address spelled other than as dotted decimal.
	ErrBadURL = errors.New("invalid endpoint URL")

	// ErrScheme means the URL's scheme is not https, or is http while the
	// policy does not allow plain http.
	ErrScheme = errors.New("endpoint URL scheme not allowed")

	// ErrUserinfo means the URL carries userinfo ("user:pass@"). Credentials
	// belong in endpoint headers, not in a URL that ends up in logs.
	ErrUserinfo = errors.New("endpoint URL must not contain userinfo")

	// ErrBlockedAddress means the destination IP is in the SSRF blocklist
	// (or is one of this host's own addresses) and no allowlisted network
	// lifts it, or is a metadata or link-local address, which no allowlist
	// lifts.
	ErrBlockedAddress = errors.New("destination address blocked by SSRF policy")

	// ErrPort means the destination port is not one the policy allows.
	ErrPort = errors.New("destination port not allowed")
)

// Policy is the SSRF guard for outbound deliveries: which URLs an endpoint
// may have and which addresses and ports the delivery client may dial. The
// zero value is the strict default: https only, port 443 only, and every
// address in the blocklist refused.
//
// The guard is enforced in two places. CheckURL gives an operator immediate
// feedback when an endpoint is created or updated. Client enforces the same
// rules on the resolved IP of every connection attempt, which is the check
// that counts: DNS answers change (rebinding), so a write-time check alone
// is never trusted.
//
// The blocklist is the union of code.dny.dev/ssrf's IANA special-purpose
// lists and the explicit ranges of Hookguard's reliability.md:
//
//   - IPv4: 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8,
//     169.254.0.0/16, 172.16.0.0/12, 192.0.0.0/24, 192.0.2.0/24,
//     192.31.196.0/24, 192.52.193.0/24, 192.88.99.0/24, 192.168.0.0/16,
//     192.175.48.0/24, 198.18.0.0/15, 198.51.100.0/24, 203.0.113.0/24,
//     224.0.0.0/4, 240.0.0.0/4 and 168.63.129.16/32 (Azure WireServer);
//   - IPv6: everything outside global unicast 2000::/3 (this takes in ::,
//     ::1, IPv4-compatible ::/96, 64:ff9b:1::/48, 100::/64, fc00::/7,
//     fe80::/10, fec0::/10 and ff00::/8), and inside it 2001::/23 (with
//     Teredo 2001::/32), 2001:db8::/32, 2002::/16 (6to4), 2620:4f:8000::/48
//     and 3fff::/20;
//   - IPv4-mapped addresses (::ffff:a.b.c.d) are unmapped and checked as
//     IPv4;
//   - NAT64 64:ff9b::/96 is allowed only if the IPv4 address it embeds
//     passes the whole policy (an IPv6-only host reaches IPv4 endpoints
//     through it); the local-use NAT64 prefix 64:ff9b:1::/48 is blocked
//     outright, since where it embeds an IPv4 address is the operator's
//     choice;
//   - 6to4 2002::/16 and Teredo 2001::/32 are blocked outright: both are
//     deprecated tunnels through relays nobody here controls, and no
//     webhook endpoint needs them;
//   - the host's own interface addresses (read with net.InterfaceAddrs and
//     cached for a minute) are blocked too, so a public address of this
//     machine cannot be used to reach its own services.
//
// Metadata and link-local addresses are blocked even when an allowlisted
// network covers them: 169.254.0.0/16, fe80::/10, 100.100.100.200/32
// (Alibaba), 168.63.129.16/32 (Azure WireServer), fd00:ec2::254/128 (AWS)
// and fd20:ce::254/128 (GCE). So is an IPv6 address that embeds one of
// them (NAT64, 6to4, Teredo or IPv4-compatible forms).
//
// Proxies are never used: the Client ignores HTTP_PROXY, HTTPS_PROXY and
// NO_PROXY, so an environment variable cannot route a delivery around the
// dial-time check.
type Policy struct {
	// AllowHTTP permits plain http URLs and port 80 in addition to https
	// and port 443. Default false: https only.
	AllowHTTP bool `json:"allow_http,omitempty"`

	// AllowNetworks lists CIDR prefixes that are reachable even though the
	// blocklist covers them, such as a private 10.0.0.0/8 or, for local
	// tests, 127.0.0.0/8. An address inside one of them may also be dialled
	// on any port. It never lifts a metadata or link-local address (see
	// the type's doc). IPv4-mapped prefixes (::ffff:10.0.0.0/104) are read
	// as their IPv4 form. Default none.
	AllowNetworks []netip.Prefix `json:"allow_networks,omitempty"`

	// AllowPorts lists destination ports, besides 443 (and 80 with
	// AllowHTTP), that may be dialled on any address that passes the IP
	// check. Default none.
	AllowPorts []int `json:"allow_ports,omitempty"`
}

// CheckURL validates an endpoint URL when it is written (created or
// updated), for operator feedback, and returns it parsed. The URL must be
// absolute, with scheme https (or http with AllowHTTP), a host, and no
// userinfo; a fragment is ignored.
//
// A host that is an IP literal is checked with CheckIP. So is a host that
// a resolver or libc would read as IPv4 although Go's URL parser passes it
// through as a name: decimal ("2852039166"), octal ("0251.0376.0251.0376"),
// hex ("0xa9.0xfe.0xa9.0xfe") and short ("169.254.43518") spellings. Such a
// spelling is refused with ErrBlockedAddress when its address is blocked,
// and otherwise with ErrBadURL asking for dotted decimal, since resolvers
// disagree on what it means. Following the WHATWG URL standard, a host
// whose last label is numeric must be a valid IPv4 address. "localhost"
// and names under ".localhost" are checked as 127.0.0.1.
//
// The port must be 443, 80 with AllowHTTP, or one of AllowPorts, unless the
// host is an IP literal inside AllowNetworks. For a host name with a
// non-default port, the check is left to dial time when AllowNetworks is
// set (the name may resolve into it) and fails with ErrPort otherwise.
//
// Names are not resolved here: the answer could change before delivery.
// The Client re-checks every resolved address when it dials.
func (p Policy) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, which may hold credentials;
		// keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if err := p.checkURL(u); err != nil {
		return nil, err
	}
	return u, nil
}

// checkURL is CheckURL on a parsed URL.
func (p Policy) checkURL(u *url.URL) error {
	if err := p.checkRequestURL(u); err != nil {
		return err
	}
	port, err := urlPort(u)
	if err != nil {
		return err
	}
	addr, literal, canonical, err := hostAddr(u.Hostname())
	if err != nil {
		return err
	}
	if literal {
		if err := p.CheckIP(addr); err != nil {
			return err
		}
		if !canonical {
			// Go's resolver would look this up as a name, libc would
			// not: refuse the ambiguity even where the address is fine.
			return fmt.Errorf("%w: host %q is a non-standard spelling of %s; write it as %s", ErrBadURL, u.Hostname(), addr, addr)
		}
	}
	if p.portAllowed(port) || (literal && p.allowlisted(addr.Unmap().WithZone(""))) {
		return nil
	}
	if !literal && len(p.AllowNetworks) > 0 {
		// The name may resolve into an allowlisted network, where any
		// port is fine; the dialer decides.
		return nil
	}
	return fmt.Errorf("%w: %d (allowed: %s)", ErrPort, port, p.portList())
}

// checkRequestURL holds the URL rules that the dialer cannot see: absolute
// URL, scheme, host present, no userinfo. The Client runs it on every
// request.
func (p Policy) checkRequestURL(u *url.URL) error {
	if u == nil || !u.IsAbs() {
		return fmt.Errorf("%w: not an absolute URL", ErrBadURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return fmt.Errorf("%w: %q (plain http needs allow_http)", ErrScheme, u.Scheme)
		}
	default:
		return fmt.Errorf("%w: %q", ErrScheme, u.Scheme)
	}
	if u.User != nil {
		return ErrUserinfo
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return fmt.Errorf("%w: no host", ErrBadURL)
	}
	return nil
}

// urlPort returns u's port, or the scheme's default.
func urlPort(u *url.URL) (uint16, error) {
	s := u.Port()
	if s == "" {
		if u.Scheme == "http" {
			return 80, nil
		}
		return 443, nil
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: port %q is not a number from 1 to 65535", ErrBadURL, s)
	}
	return uint16(n), nil
}

// hostAddr reports whether host (a URL's Hostname) denotes an IP address
// without DNS, and which: an IP literal, a number-like IPv4 spelling such
// as "2852039166" (canonical false), or localhost. A number-like host that
// is not a valid IPv4 address is an error.
func hostAddr(host string) (addr netip.Addr, literal, canonical bool, err error) {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "" {
		return netip.Addr{}, false, false, fmt.Errorf("%w: no host", ErrBadURL)
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a, true, true, nil
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true, true, nil
	}
	if !endsInNumber(h) {
		return netip.Addr{}, false, false, nil
	}
	a, ok := parseLooseIPv4(h)
	if !ok {
		return netip.Addr{}, false, false, fmt.Errorf("%w: host %q ends in a number but is not an IPv4 address", ErrBadURL, host)
	}
	return a, true, false, nil
}

// endsInNumber implements the WHATWG URL standard's "ends in a number"
// check: the last label is all decimal digits, or 0x followed by hex
// digits. Such a host is an IPv4 address or invalid.
func endsInNumber(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if strings.Trim(last, "0123456789") == "" {
		return true
	}
	if rest, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(rest, "0123456789abcdef") == ""
	}
	return false
}

// parseLooseIPv4 parses an IPv4 address the way inet_aton(3) and the WHATWG
// URL standard do: one to four dot-separated parts, each decimal, octal
// (leading 0) or hex (leading 0x, where "0x" alone is 0); the last part
// fills the remaining bytes ("a.b.c.d", "a.b.c16", "a.b24", "a32"). h must
// be lower case.
func parseLooseIPv4(h string) (netip.Addr, bool) {
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, part := range parts {
		n, ok := parseLooseIPv4Part(part)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v = v<<8 | n
			continue
		}
		bits := uint(8 * (5 - len(parts)))
		if n >= 1<<bits {
			return netip.Addr{}, false
		}
		v = v<<bits | n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseLooseIPv4Part parses one part of a loose IPv4 address.
func parseLooseIPv4Part(s string) (uint64, bool) {
	base := 10
	switch {
	case s == "":
		return 0, false
	case strings.HasPrefix(s, "0x"):
		s, base = s[2:], 16
		if s == "" {
			return 0, true
		}
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s[0] == '+' || s[0] == '-' || strings.Contains(s, "_") {
		return 0, false
	}
	n, err := strconv.ParseUint(s, base, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// CheckIP is the dial-time check: it returns nil if the policy lets the
// delivery client connect to ip, and otherwise an error wrapping
// ErrBlockedAddress that names the range that matched. ip is unmapped
// (::ffff:a.b.c.d is checked as a.b.c.d) and its zone ignored. See the
// Policy doc for the ranges and for what AllowNetworks can and cannot lift.
// The port is not checked here.
func (p Policy) CheckIP(ip netip.Addr) error {
	return p.checkIP(ip, hostAddrs)
}

// checkIP is CheckIP against a given set of the host's own addresses.
func (p Policy) checkIP(ip netip.Addr, self *selfAddrs) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrBlockedAddress)
	}
	ip = ip.Unmap().WithZone("")
	if pfx, ok := firstMatch(alwaysBlocked, ip); ok {
		return fmt.Errorf("%w: %s is in %s (metadata or link-local: never allowed)", ErrBlockedAddress, ip, pfx)
	}
	for _, e := range embeddedIPv4(ip) {
		if pfx, ok := firstMatch(alwaysBlocked, e); ok {
			return fmt.Errorf("%w: %s embeds %s, which is in %s (metadata or link-local: never allowed)", ErrBlockedAddress, ip, e, pfx)
		}
	}
	if p.allowlisted(ip) {
		return nil
	}
	if ip.Is6() && nat64.Contains(ip) {
		e := lastIPv4(ip)
		if err := p.checkIP(e, self); err != nil {
			return fmt.Errorf("NAT64 address %s maps to %s: %w", ip, e, err)
		}
	} else if reason := blockedRange(ip); reason != "" {
		return fmt.Errorf("%w: %s is in %s", ErrBlockedAddress, ip, reason)
	}
	if self.contains(ip) {
		return fmt.Errorf("%w: %s is an address of this host", ErrBlockedAddress, ip)
	}
	return nil
}

// allowlisted reports whether ip (unmapped, unzoned) is inside one of
// AllowNetworks.
func (p Policy) allowlisted(ip netip.Addr) bool {
	for _, pfx := range p.AllowNetworks {
		if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// portAllowed reports whether port may be dialled on any address that
// passes the IP check.
func (p Policy) portAllowed(port uint16) bool {
	return port == 443 || (p.AllowHTTP && port == 80) || slices.Contains(p.AllowPorts, int(port))
}

// portList describes the ports allowed everywhere, for error messages.
func (p Policy) portList() string {
	ports := []string{"443"}
	if p.AllowHTTP {
		ports = append(ports, "80")
	}
	for _, n := range p.AllowPorts {
		ports = append(ports, strconv.Itoa(n))
	}
	s := strings.Join(ports, ", ")
	if len(p.AllowNetworks) > 0 {
		s += "; any port inside allow_networks"
	}
	return s
}

// checkAddrPort is the full dial-time check of one connection attempt: the
// address, then the port (any port inside AllowNetworks).
func (p Policy) checkAddrPort(ap netip.AddrPort, self *selfAddrs) error {
	ip := ap.Addr()
	if err := p.checkIP(ip, self); err != nil {
		return err
	}
	if p.portAllowed(ap.Port()) || p.allowlisted(ip.Unmap().WithZone("")) {
		return nil
	}
	return fmt.Errorf("%w: %d (allowed: %s)", ErrPort, ap.Port(), p.portList())
}

var (
	// alwaysBlocked holds the metadata and link-local ranges that no
	// allowlist lifts.
	alwaysBlocked = mustPrefixes(
		"169.254.0.0/16",     // link-local; IMDS 169.254.169.254, ECS 169.254.170.2
		"100.100.100.200/32", // Alibaba Cloud metadata
		"168.63.129.16/32",   // Azure WireServer
		"fe80::/10",          // IPv6 link-local
		"fd00:ec2::254/128",  // AWS IMDS over IPv6
		"fd20:ce::254/128",   // GCE metadata over IPv6
	)

	// blockedV4 and blockedV6 are reliability.md's explicit blocklist. The
	// IANA-synced lists of code.dny.dev/ssrf are checked as well.
	blockedV4 = mustPrefixes(
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
		"169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
		"192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "168.63.129.16/32",
	)
	blockedV6 = mustPrefixes(
		"::/128", "::1/128", "::ffff:0:0/96", "::/96", "64:ff9b:1::/48",
		"2002::/16", "2001::/32", "2001:db8::/32", "100::/64", "fc00::/7",
		"fe80::/10", "fec0::/10", "ff00::/8",
	)

	nat64       = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
	teredo      = netip.MustParsePrefix("2001::/32")
	v4Compat    = netip.MustParsePrefix("::/96")
	localNAT64  = netip.MustParsePrefix("64:ff9b:1::/48")
	globalV6    = ssrf.IPv6GlobalUnicast
	libraryV4   = ssrf.IPv4DeniedPrefixes
	libraryV6   = ssrf.IPv6DeniedPrefixes
	embedRanges = []netip.Prefix{nat64, localNAT64, sixToFour, teredo, v4Compat}
)

// blockedRange returns the blocklist range that holds ip (unmapped,
// unzoned, not NAT64), or "" if none does.
func blockedRange(ip netip.Addr) string {
	if ip.Is4() {
		if pfx, ok := firstMatch(blockedV4, ip); ok {
			return pfx.String()
		}
		if pfx, ok := firstMatch(libraryV4, ip); ok {
			return pfx.String()
		}
		return ""
	}
	if pfx, ok := firstMatch(blockedV6, ip); ok {
		return pfx.String()
	}
	if !globalV6.Contains(ip) {
		return "non-global-unicast IPv6 (outside " + globalV6.String() + ")"
	}
	if pfx, ok := firstMatch(libraryV6, ip); ok {
		return pfx.String()
	}
	return ""
}

// embeddedIPv4 returns the IPv4 addresses an IPv6 address carries in the
// NAT64, 6to4, Teredo (server and client) and IPv4-compatible forms, so
// that the never-allowed ranges cannot be reached through a translator
// even when the IPv6 range is allowlisted.
func embeddedIPv4(ip netip.Addr) []netip.Addr {
	if !ip.Is6() || !slices.ContainsFunc(embedRanges, func(p netip.Prefix) bool { return p.Contains(ip) }) {
		return nil
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip), v4Compat.Contains(ip):
		return []netip.Addr{lastIPv4(ip)}
	case localNAT64.Contains(ip):
		// RFC 6052 /48 layout (bits 48-63 and 72-87) and the /96 layout.
		return []netip.Addr{netip.AddrFrom4([4]byte{b[6], b[7], b[9], b[10]}), lastIPv4(ip)}
	case sixToFour.Contains(ip):
		return []netip.Addr{netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})}
	default: // Teredo: server in bits 32-63, client obfuscated in the last 32.
		return []netip.Addr{
			netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}),
			netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}),
		}
	}
}

// lastIPv4 returns the last 32 bits of an IPv6 address as IPv4.
func lastIPv4(ip netip.Addr) netip.Addr {
	b := ip.As16()
	return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
}

// firstMatch returns the first prefix in list that contains ip.
func firstMatch(list []netip.Prefix, ip netip.Addr) (netip.Prefix, bool) {
	for _, pfx := range list {
		if pfx.Contains(ip) {
			return pfx, true
		}
	}
	return netip.Prefix{}, false
}

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// hostAddrs caches this host's interface addresses for CheckIP.
var hostAddrs = &selfAddrs{fetch: net.InterfaceAddrs, ttl: time.Minute, clock: time.Now}

// selfAddrs is a cached set of this host's own addresses. The set is
// re-read after ttl. If reading fails, the previous set (empty at first)
// is kept until the next refresh: the static blocklist already covers
// loopback and private addresses, so this check only adds a host's public
// addresses, and failing closed would stop every delivery.
type selfAddrs struct {
	fetch func() ([]net.Addr, error)
	ttl   time.Duration
	clock func() time.Time

	mu    sync.Mutex
	at    time.Time
	addrs map[netip.Addr]struct{}
}

// contains reports whether ip (unmapped, unzoned) is one of the host's
// addresses.
func (s *selfAddrs) contains(ip netip.Addr) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := s.clock(); s.addrs == nil || now.Sub(s.at) >= s.ttl {
		s.at = now
		if list, err := s.fetch(); err == nil {
			set := make(map[netip.Addr]struct{}, len(list))
			for _, a := range list {
				var ipb net.IP
				switch a := a.(type) {
				case *net.IPNet:
					ipb = a.IP
				case *net.IPAddr:
					ipb = a.IP
				}
				if na, ok := netip.AddrFromSlice(ipb); ok {
					set[na.Unmap()] = struct{}{}
				}
			}
			s.addrs = set
		} else if s.addrs == nil {
			s.addrs = map[netip.Addr]struct{}{}
		}
	}
	_, ok := s.addrs[ip]
	return ok
}
