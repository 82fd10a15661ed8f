package delivery

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"code.dny.dev/ssrf"
)

// noSelf is a set of the host's own addresses that is always empty, so the
// tables do not depend on the machine they run on.
func noSelf() *selfAddrs {
	return &selfAddrs{
		fetch: func() ([]net.Addr, error) { return nil, nil },
		ttl:   time.Hour,
		clock: func() time.Time { return time.Unix(0, 0) },
	}
}

// TestCheckIPBlocklist pins every range of the blocklist: a representative
// address inside each, and where meaningful one just outside that passes.
func TestCheckIPBlocklist(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip      string
		blocked bool
		rng     string // the range the error must name, for blocked rows
	}{
		// 0.0.0.0/8 (0.0.0.0 reaches localhost)
		{"0.0.0.0", true, "0.0.0.0/8"},
		{"0.255.255.255", true, "0.0.0.0/8"},
		{"1.0.0.0", false, ""},
		// RFC 1918
		{"10.0.0.1", true, "10.0.0.0/8"},
		{"10.255.255.255", true, "10.0.0.0/8"},
		{"9.255.255.255", false, ""},
		{"11.0.0.0", false, ""},
		{"172.16.0.1", true, "172.16.0.0/12"},
		{"172.31.255.255", true, "172.16.0.0/12"},
		{"172.15.255.255", false, ""},
		{"172.32.0.0", false, ""},
		{"192.168.1.1", true, "192.168.0.0/16"},
		{"192.167.255.255", false, ""},
		{"192.169.0.0", false, ""},
		// CGNAT, with Alibaba metadata
		{"100.64.0.1", true, "100.64.0.0/10"},
		{"100.127.255.255", true, "100.64.0.0/10"},
		{"100.100.100.200", true, "100.100.100.200/32"},
		{"100.63.255.255", false, ""},
		{"100.128.0.0", false, ""},
		// loopback
		{"127.0.0.1", true, "127.0.0.0/8"},
		{"127.255.255.254", true, "127.0.0.0/8"},
		{"126.255.255.255", false, ""},
		{"128.0.0.0", false, ""},
		// link-local: IMDS, ECS
		{"169.254.169.254", true, "169.254.0.0/16"},
		{"169.254.170.2", true, "169.254.0.0/16"},
		{"169.253.255.255", false, ""},
		{"169.255.0.0", false, ""},
		// IETF protocol assignments
		{"192.0.0.8", true, "192.0.0.0/24"},
		{"192.0.1.0", false, ""},
		// TEST-NETs
		{"192.0.2.1", true, "192.0.2.0/24"},
		{"192.0.3.0", false, ""},
		{"198.51.100.7", true, "198.51.100.0/24"},
		{"198.51.101.0", false, ""},
		{"203.0.113.9", true, "203.0.113.0/24"},
		{"203.0.114.0", false, ""},
		// benchmarking
		{"198.18.0.1", true, "198.18.0.0/15"},
		{"198.19.255.255", true, "198.18.0.0/15"},
		{"198.17.255.255", false, ""},
		{"198.20.0.0", false, ""},
		// multicast, reserved, broadcast
		{"224.0.0.1", true, "224.0.0.0/4"},
		{"239.255.255.250", true, "224.0.0.0/4"},
		{"223.255.255.255", false, ""},
		{"240.0.0.1", true, "240.0.0.0/4"},
		{"255.255.255.255", true, "240.0.0.0/4"},
		// Azure WireServer
		{"168.63.129.16", true, "168.63.129.16/32"},
		{"168.63.129.15", false, ""},
		{"168.63.129.17", false, ""},
		// code.dny.dev/ssrf's IANA extras
		{"192.31.196.1", true, "192.31.196.0/24"},
		{"192.52.193.1", true, "192.52.193.0/24"},
		{"192.88.99.1", true, "192.88.99.0/24"},
		{"192.175.48.1", true, "192.175.48.0/24"},
		// public IPv4
		{"8.8.8.8", false, ""},
		{"1.1.1.1", false, ""},

		// IPv6 unspecified and loopback
		{"::", true, "::/128"},
		{"::1", true, "::1/128"},
		// IPv4-mapped: unmapped, then checked as IPv4
		{"::ffff:127.0.0.1", true, "127.0.0.0/8"},
		{"::ffff:169.254.169.254", true, "169.254.0.0/16"},
		{"::ffff:10.1.2.3", true, "10.0.0.0/8"},
		{"::ffff:8.8.8.8", false, ""},
		// IPv4-compatible (deprecated): blocked outright
		{"::7f00:1", true, "::/96"},
		{"::808:808", true, "::/96"},
		{"::a9fe:a9fe", true, "169.254.0.0/16"},
		// NAT64 well-known prefix: the embedded IPv4 is re-checked
		{"64:ff9b::7f00:1", true, "127.0.0.0/8"},
		{"64:ff9b::a00:1", true, "10.0.0.0/8"},
		{"64:ff9b::a9fe:a9fe", true, "169.254.0.0/16"},
		{"64:ff9b::808:808", false, ""},
		// NAT64 local-use prefix: blocked outright
		{"64:ff9b:1::808:808", true, "64:ff9b:1::/48"},
		// 6to4: blocked outright, whatever it embeds
		{"2002:7f00:1::", true, "2002::/16"},
		{"2002:808:808::1", true, "2002::/16"},
		{"2002:a9fe:a9fe::", true, "169.254.0.0/16"},
		{"2003::1", false, ""},
		// Teredo: blocked outright
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", true, "2001::/32"},
		{"2001:1::1", true, "2001::/23"},
		{"2001:200::1", false, ""},
		// documentation
		{"2001:db8::1", true, "2001:db8::/32"},
		{"2001:db9::1", false, ""},
		{"3fff::1", true, "3fff::/20"},
		// AS112
		{"2620:4f:8000::1", true, "2620:4f:8000::/48"},
		// discard-only
		{"100::1", true, "100::/64"},
		// unique local, with AWS and GCE metadata
		{"fc00::1", true, "fc00::/7"},
		{"fd12:3456::1", true, "fc00::/7"},
		{"fd00:ec2::254", true, "fd00:ec2::254/128"},
		{"fd20:ce::254", true, "fd20:ce::254/128"},
		// link-local, with and without zone
		{"fe80::1", true, "fe80::/10"},
		{"fe80::1%eth0", true, "fe80::/10"},
		// site-local (deprecated)
		{"fec0::1", true, "fec0::/10"},
		// multicast
		{"ff02::1", true, "ff00::/8"},
		{"ff0e::1", true, "ff00::/8"},
		// outside global unicast 2000::/3
		{"4000::1", true, "2000::/3"},
		{"1::1", true, "2000::/3"},
		// public IPv6
		{"2606:4700:4700::1111", false, ""},
		{"2001:4860:4860::8888", false, ""},
	}
	self := noSelf()
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			err := Policy{}.checkIP(netip.MustParseAddr(tt.ip), self)
			if !tt.blocked {
				if err != nil {
					t.Fatalf("CheckIP(%s) = %v, want allowed", tt.ip, err)
				}
				return
			}
			if !errors.Is(err, ErrBlockedAddress) {
				t.Fatalf("CheckIP(%s) = %v, want ErrBlockedAddress", tt.ip, err)
			}
			if !strings.Contains(err.Error(), tt.rng) {
				t.Errorf("CheckIP(%s) = %q, want it to name %s", tt.ip, err, tt.rng)
			}
		})
	}
}

// TestCheckIPEveryListedRange makes sure each range of the explicit lists
// and of code.dny.dev/ssrf refuses its first and last address, so a range
// dropped from the code is caught even if the table above misses it.
func TestCheckIPEveryListedRange(t *testing.T) {
	t.Parallel()
	var all []netip.Prefix
	all = append(all, alwaysBlocked...)
	all = append(all, blockedV4...)
	all = append(all, blockedV6...)
	all = append(all, ssrf.IPv4DeniedPrefixes...)
	all = append(all, ssrf.IPv6DeniedPrefixes...)
	all = append(all, netip.MustParsePrefix("64:ff9b::7f00:0/104")) // NAT64 of 127/8
	self := noSelf()
	for _, pfx := range all {
		for _, ip := range []netip.Addr{pfx.Addr(), prefixLastAddr(pfx)} {
			if err := (Policy{}).checkIP(ip, self); !errors.Is(err, ErrBlockedAddress) {
				t.Errorf("%s (in %s): CheckIP = %v, want ErrBlockedAddress", ip, pfx, err)
			}
		}
	}
}

// prefixLastAddr returns the last address of pfx.
func prefixLastAddr(pfx netip.Prefix) netip.Addr {
	b := pfx.Masked().Addr().AsSlice()
	for i := pfx.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// TestLibraryListsPinned fails when an upgrade of code.dny.dev/ssrf changes
// its lists, so the change is reviewed and the tables updated.
func TestLibraryListsPinned(t *testing.T) {
	t.Parallel()
	wantV4 := []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
		"192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "224.0.0.0/4",
	}
	wantV6 := []string{"2001::/23", "2001:db8::/32", "2002::/16", "2620:4f:8000::/48", "3fff::/20"}
	str := func(ps []netip.Prefix) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	if got := str(ssrf.IPv4DeniedPrefixes); !slices.Equal(got, wantV4) {
		t.Errorf("ssrf.IPv4DeniedPrefixes = %v, want %v", got, wantV4)
	}
	if got := str(ssrf.IPv6DeniedPrefixes); !slices.Equal(got, wantV6) {
		t.Errorf("ssrf.IPv6DeniedPrefixes = %v, want %v", got, wantV6)
	}
	if ssrf.IPv6GlobalUnicast.String() != "2000::/3" {
		t.Errorf("ssrf.IPv6GlobalUnicast = %s", ssrf.IPv6GlobalUnicast)
	}
}

func TestCheckIPInvalid(t *testing.T) {
	t.Parallel()
	if err := (Policy{}).CheckIP(netip.Addr{}); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("CheckIP(zero Addr) = %v, want ErrBlockedAddress", err)
	}
}

// TestCheckIPAllowNetworks covers case 44: an allowlisted private range
// works, metadata and link-local stay blocked even under 0.0.0.0/0.
func TestCheckIPAllowNetworks(t *testing.T) {
	t.Parallel()
	pfx := func(ss ...string) []netip.Prefix { return mustPrefixes(ss...) }
	tests := []struct {
		name    string
		allow   []netip.Prefix
		ip      string
		blocked bool
	}{
		{"loopback allowlisted", pfx("127.0.0.0/8"), "127.0.0.1", false},
		{"loopback allowlisted, other loopback", pfx("127.0.0.0/8"), "127.9.9.9", false},
		{"loopback allowlisted, mapped", pfx("127.0.0.0/8"), "::ffff:127.0.0.1", false},
		{"loopback allowlisted, IPv6 loopback not", pfx("127.0.0.0/8"), "::1", true},
		{"loopback allowlisted, private not", pfx("127.0.0.0/8"), "10.0.0.1", true},
		{"loopback allowlisted, metadata not", pfx("127.0.0.0/8"), "169.254.169.254", true},
		{"single host", pfx("127.0.0.1/32"), "127.0.0.2", true},
		{"mapped prefix read as IPv4", pfx("::ffff:127.0.0.0/104"), "127.0.0.1", false},
		{"private allowlisted", pfx("10.0.0.0/8"), "10.1.2.3", false},
		{"private allowlisted via NAT64", pfx("10.0.0.0/8"), "64:ff9b::a01:203", false},
		{"ULA allowlisted", pfx("fc00::/7"), "fd12::1", false},
		{"ULA allowlisted, AWS metadata not", pfx("fc00::/7"), "fd00:ec2::254", true},
		{"ULA allowlisted, GCE metadata not", pfx("fc00::/7"), "fd20:ce::254", true},
		{"CGNAT allowlisted", pfx("100.64.0.0/10"), "100.100.100.201", false},
		{"CGNAT allowlisted, Alibaba not", pfx("100.64.0.0/10"), "100.100.100.200", true},
		{"link-local allowlisted, IMDS not", pfx("169.254.0.0/16"), "169.254.169.254", true},
		{"link-local allowlisted, ECS not", pfx("169.254.0.0/16"), "169.254.170.2", true},
		{"link-local allowlisted, any not", pfx("169.254.0.0/16"), "169.254.1.1", true},
		{"IMDS /32 allowlisted", pfx("169.254.169.254/32"), "169.254.169.254", true},
		{"WireServer /32 allowlisted", pfx("168.63.129.16/32"), "168.63.129.16", true},
		{"fe80 allowlisted", pfx("fe80::/10"), "fe80::1", true},
	}
	everything := pfx("0.0.0.0/0", "::/0")
	for _, ip := range []string{
		"169.254.169.254", "169.254.170.2", "168.63.129.16", "100.100.100.200",
		"fd00:ec2::254", "fd20:ce::254", "fe80::1", "fe80::1%eth0",
		"::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::",
		"::a9fe:a9fe", "64:ff9b:1:a9fe:a9:fe00::", "64:ff9b:1::a9fe:a9fe",
		"2001:0:a9fe:a9fe::1", "2001::5601:5601", // Teredo server / client
	} {
		tests = append(tests, struct {
			name    string
			allow   []netip.Prefix
			ip      string
			blocked bool
		}{"everything allowlisted, never " + ip, everything, ip, true})
	}
	for _, ip := range []string{"127.0.0.1", "10.0.0.1", "192.168.0.1", "0.0.0.0", "::1", "fd12::1", "100.100.100.201"} {
		tests = append(tests, struct {
			name    string
			allow   []netip.Prefix
			ip      string
			blocked bool
		}{"everything allowlisted, lifts " + ip, everything, ip, false})
	}
	self := noSelf()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Policy{AllowNetworks: tt.allow}.checkIP(netip.MustParseAddr(tt.ip), self)
			if tt.blocked != (err != nil) {
				t.Fatalf("CheckIP(%s) with allow %v = %v, want blocked=%v", tt.ip, tt.allow, err, tt.blocked)
			}
			if err != nil && !errors.Is(err, ErrBlockedAddress) {
				t.Fatalf("CheckIP(%s) = %v, want ErrBlockedAddress", tt.ip, err)
			}
		})
	}
}

// TestCheckIPSelfAddresses covers the host's own addresses: blocked unless
// allowlisted, read through the cache.
func TestCheckIPSelfAddresses(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	fetches := 0
	addrs := []net.Addr{&net.IPNet{IP: net.ParseIP("8.8.4.4"), Mask: net.CIDRMask(24, 32)}}
	self := &selfAddrs{
		fetch: func() ([]net.Addr, error) { fetches++; return addrs, nil },
		ttl:   time.Minute,
		clock: func() time.Time { return now },
	}
	ip := netip.MustParseAddr("8.8.4.4")
	if err := (Policy{}).checkIP(ip, self); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("own address: CheckIP = %v, want ErrBlockedAddress", err)
	}
	if err := (Policy{}).checkIP(netip.MustParseAddr("8.8.4.5"), self); err != nil {
		t.Fatalf("neighbour of own address: CheckIP = %v, want allowed (only the address is blocked, not its subnet)", err)
	}
	if err := (Policy{AllowNetworks: mustPrefixes("8.8.4.4/32")}).checkIP(ip, self); err != nil {
		t.Fatalf("allowlisted own address: CheckIP = %v, want allowed", err)
	}
	if fetches != 1 {
		t.Fatalf("fetches = %d within the TTL, want 1", fetches)
	}

	// After the TTL the set is re-read; an address that went away is
	// no longer blocked.
	addrs = nil
	now = now.Add(time.Minute)
	if err := (Policy{}).checkIP(ip, self); err != nil {
		t.Fatalf("after refresh: CheckIP = %v, want allowed", err)
	}
	if fetches != 2 {
		t.Fatalf("fetches = %d after the TTL, want 2", fetches)
	}

	// A failed read keeps the previous set.
	addrs = []net.Addr{&net.IPAddr{IP: net.ParseIP("2606:4700::1")}}
	now = now.Add(time.Minute)
	v6 := netip.MustParseAddr("2606:4700::1")
	if err := (Policy{}).checkIP(v6, self); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("own IPv6 address: CheckIP = %v, want ErrBlockedAddress", err)
	}
	self.fetch = func() ([]net.Addr, error) { fetches++; return nil, errors.New("netlink denied") }
	now = now.Add(time.Minute)
	if err := (Policy{}).checkIP(v6, self); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("after a failed refresh: CheckIP = %v, want the previous set kept", err)
	}
	if fetches != 4 {
		t.Fatalf("fetches = %d, want 4", fetches)
	}
}

// TestHostAddrsReal checks that the real cache holds every interface
// address of this machine.
func TestHostAddrsReal(t *testing.T) {
	t.Parallel()
	list, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("net.InterfaceAddrs: %v", err)
	}
	for _, a := range list {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, _ := netip.AddrFromSlice(n.IP)
		if !hostAddrs.contains(ip.Unmap()) {
			t.Errorf("interface address %s missing from the cache", ip)
		}
	}
}

// TestCheckURLOddIPv4 covers case 40: every spelling of 169.254.169.254
// (and of loopback) that a resolver or libc accepts is refused.
func TestCheckURLOddIPv4(t *testing.T) {
	t.Parallel()
	for _, host := range []string{
		"169.254.169.254",
		"169.254.169.254.",      // trailing dot
		"2852039166",            // decimal
		"025177524776",          // octal, one part
		"0xa9fea9fe",            // hex, one part
		"0XA9FEA9FE",            // hex, upper case
		"0251.0376.0251.0376",   // octal parts
		"0xa9.0xfe.0xa9.0xfe",   // hex parts
		"0x0a9.0x0fe.0xa9.0xfe", // hex with leading zeros
		"169.254.43518",         // a.b.c16
		"169.16689662",          // a.b24
		"0xa9.254.0251.254",     // mixed
		"0251.0xfe.43518",       // mixed short
		"0000251.254.169.254",   // long octal
		"[::ffff:169.254.169.254]",
		"[::ffff:a9fe:a9fe]",
		"[64:ff9b::a9fe:a9fe]",
		"[::a9fe:a9fe]",
		"[2002:a9fe:a9fe::]",
		"127.1",
		"0x7f000001",
		"2130706433",
		"0177.0.0.1",
		"0",
		"0x",
		"localhost",
		"LOCALHOST.",
		"api.localhost",
		"[::1]",
		"[fe80::1%25eth0]",
	} {
		t.Run(host, func(t *testing.T) {
			u, err := Policy{}.CheckURL("https://" + host + "/hook")
			if !errors.Is(err, ErrBlockedAddress) {
				t.Fatalf("CheckURL(%q) = %v, %v; want ErrBlockedAddress", host, u, err)
			}
		})
	}
}

func TestParseLooseIPv4(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" means invalid
	}{
		{"169.254.169.254", "169.254.169.254"},
		{"2852039166", "169.254.169.254"},
		{"0251.0376.0251.0376", "169.254.169.254"},
		{"0xa9.0xfe.0xa9.0xfe", "169.254.169.254"},
		{"169.254.43518", "169.254.169.254"},
		{"169.16689662", "169.254.169.254"},
		{"1", "0.0.0.1"},
		{"0x", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"256.0.0.1", ""},
		{"1.256", "1.0.1.0"},
		{"1.256.1", ""},
		{"1.65536.1", ""},
		{"1.2.65536", ""},
		{"1.2.3.256", ""},
		{"08.1.1.1", ""},
		{"0x1g.1.1.1", ""},
		{"1..1", ""},
		{"1.2.3.4.5", ""},
		{"+1.2.3.4", ""},
		{"1_0.1.1.1", ""},
		{"99999999999999999999999", ""},
	}
	for _, tt := range tests {
		a, ok := parseLooseIPv4(tt.in)
		switch {
		case tt.want == "" && ok:
			t.Errorf("parseLooseIPv4(%q) = %s, want invalid", tt.in, a)
		case tt.want != "" && (!ok || a.String() != tt.want):
			t.Errorf("parseLooseIPv4(%q) = %s, %v; want %s", tt.in, a, ok, tt.want)
		}
	}
}

// TestCheckURL covers the write-time rules: scheme, userinfo, host, port.
func TestCheckURL(t *testing.T) {
	t.Parallel()
	loop := mustPrefixes("127.0.0.0/8")
	tests := []struct {
		name   string
		policy Policy
		url    string
		want   error // nil means accepted
	}{
		{"https", Policy{}, "https://example.com/hook?x=1", nil},
		{"https 443", Policy{}, "https://example.com:443/hook", nil},
		{"https fragment ignored", Policy{}, "https://example.com/hook#frag", nil},
		{"upper-case scheme", Policy{}, "HTTPS://Example.COM/", nil},
		{"public IPv4", Policy{}, "https://8.8.8.8/", nil},
		{"public IPv6", Policy{}, "https://[2606:4700:4700::1111]/", nil},
		{"http refused by default", Policy{}, "http://example.com/", ErrScheme},
		{"http allowed", Policy{AllowHTTP: true}, "http://example.com/", nil},
		{"http 80 allowed", Policy{AllowHTTP: true}, "http://example.com:80/", nil},
		{"ftp", Policy{AllowHTTP: true}, "ftp://example.com/", ErrScheme},
		{"javascript", Policy{}, "javascript:alert(1)", ErrScheme},
		{"userinfo", Policy{}, "https://user:secret@example.com/", ErrUserinfo},
		{"user only", Policy{}, "https://user@example.com/", ErrUserinfo},
		{"empty userinfo", Policy{}, "https://@example.com/", ErrUserinfo},
		{"relative", Policy{}, "/hook", ErrBadURL},
		{"scheme-relative", Policy{}, "//example.com/hook", ErrBadURL},
		{"empty", Policy{}, "", ErrBadURL},
		{"garbage", Policy{}, "::not a url::", ErrBadURL},
		{"space in host", Policy{}, "https://exa mple.com/", ErrBadURL},
		{"no host", Policy{}, "https:///hook", ErrBadURL},
		{"opaque", Policy{}, "https:example.com", ErrBadURL},
		{"port only", Policy{}, "https://:443/", ErrBadURL},
		{"bad port", Policy{}, "https://example.com:99999/", ErrBadURL},
		{"port zero", Policy{}, "https://example.com:0/", ErrBadURL},
		{"non-443 port", Policy{}, "https://example.com:8443/", ErrPort},
		{"port 80 on https without allow_http", Policy{}, "https://example.com:80/", ErrPort},
		{"http non-80 port", Policy{AllowHTTP: true}, "http://example.com:8080/", ErrPort},
		{"allow_ports", Policy{AllowPorts: []int{8443}}, "https://example.com:8443/", nil},
		{"allow_ports other", Policy{AllowPorts: []int{8443}}, "https://example.com:9443/", ErrPort},
		{"any port in allowlisted network", Policy{AllowHTTP: true, AllowNetworks: loop}, "http://127.0.0.1:8080/", nil},
		{"localhost in allowlisted network", Policy{AllowHTTP: true, AllowNetworks: loop}, "http://localhost:8080/", nil},
		{"allowlist does not open ports elsewhere", Policy{AllowNetworks: loop}, "https://8.8.8.8:8443/", ErrPort},
		{"name with port deferred to dial time", Policy{AllowNetworks: loop}, "https://sink.internal:8443/", nil},
		{"loopback literal", Policy{}, "https://127.0.0.1/", ErrBlockedAddress},
		{"private literal", Policy{}, "https://10.0.0.1/", ErrBlockedAddress},
		{"metadata allowlisted", Policy{AllowNetworks: mustPrefixes("0.0.0.0/0")}, "https://169.254.169.254/", ErrBlockedAddress},
		{"number-like name", Policy{}, "https://example.123/", ErrBadURL},
		{"five parts", Policy{}, "https://1.2.3.4.5/", ErrBadURL},
		{"odd spelling of public address", Policy{}, "https://16843009/", ErrBadURL},
		{"odd spelling of allowlisted address", Policy{AllowNetworks: loop}, "https://127.1/", ErrBadURL},
		{"name with digits", Policy{}, "https://1password.example/", nil},
		{"hex-looking label not last", Policy{}, "https://0xdead.example/", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := tt.policy.CheckURL(tt.url)
			if tt.want == nil {
				if err != nil || u == nil {
					t.Fatalf("CheckURL(%q) = %v, %v; want accepted", tt.url, u, err)
				}
				return
			}
			if !errors.Is(err, tt.want) || u != nil {
				t.Fatalf("CheckURL(%q) = %v, %v; want %v", tt.url, u, err, tt.want)
			}
		})
	}
}

// TestCheckURLErrorsHideSecrets makes sure an error never repeats the
// URL's password or query.
func TestCheckURLErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"https://user:hunter2@example.com/?token=hunter2",
		"https://user:hunter2@exa mple.com/?token=hunter2",
		"http://example.com/?token=hunter2",
		"https://10.0.0.1/?token=hunter2",
		"https://example.com:8443/?token=hunter2",
		"https://example.com:99999/?token=hunter2",
		"https://hunter2%zz@example.com/",
	} {
		_, err := Policy{}.CheckURL(raw)
		if err == nil {
			t.Fatalf("CheckURL(%q) accepted", raw)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("CheckURL(%q) error %q leaks the secret", raw, err)
		}
	}
}

// FuzzCheckURL: CheckURL never panics, and an accepted URL is https (or
// http with AllowHTTP), has no userinfo, and a literal host passes CheckIP.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/", "https://2852039166/", "http://0x7f.1:80/",
		"https://[::ffff:a9fe:a9fe]/", "https://u@h/", "https://1.2.3.4.5/",
		"https://0x/", "https://..", "https://[fe80::1%25x]:1/",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, allowHTTP bool) {
		p := Policy{AllowHTTP: allowHTTP}
		u, err := p.CheckURL(raw)
		if err != nil {
			return
		}
		if u.Scheme != "https" && !(allowHTTP && u.Scheme == "http") {
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
		if u.User != nil {
			t.Fatal("accepted userinfo")
		}
		if a, err := netip.ParseAddr(strings.TrimSuffix(u.Hostname(), ".")); err == nil {
			if err := p.CheckIP(a); err != nil {
				t.Fatalf("accepted blocked literal %s: %v", a, err)
			}
		}
	})
}
