package delivery

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// setClock makes the ID generator read a fixed, settable clock for the rest
// of the test and forgets the previous ID, so that tests do not depend on
// one another's clocks.
func setClock(t *testing.T, start time.Time) *time.Time {
	t.Helper()
	clock := start
	old := now
	now = func() time.Time { return clock }
	resetGen()
	t.Cleanup(func() { now = old; resetGen() })
	return &clock
}

func resetGen() {
	gen.Lock()
	gen.ms = 0
	gen.rand = [10]byte{}
	gen.Unlock()
}

var idBody = regexp.MustCompile(`^[0-7][0-9a-hjkmnp-tv-z]{25}$`)

func TestIDFormat(t *testing.T) {
	tests := []struct {
		name   string
		new    func() string
		prefix string
	}{
		{"event", NewEventID, "wevt_"},
		{"delivery", NewDeliveryID, "wdlv_"},
		{"endpoint", NewEndpointID, "we_"},
		{"static endpoint", func() string { return StaticEndpointID("billing") }, "we_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.new()
			body, ok := strings.CutPrefix(id, tt.prefix)
			if !ok || len(body) != IDChars || len(id) != len(tt.prefix)+26 || !idBody.MatchString(body) {
				t.Fatalf("ID %q: want %q + 26 lowercase Crockford base32 characters", id, tt.prefix)
			}
		})
	}
}

func TestIDTimestamp(t *testing.T) {
	at := time.Date(2025, 3, 14, 15, 9, 26, 535_897_000, time.UTC)
	setClock(t, at)
	for _, id := range []string{NewEventID(), NewDeliveryID(), NewEndpointID()} {
		got, ok := IDTime(id)
		if !ok || !got.Equal(at.Truncate(time.Millisecond)) {
			t.Errorf("IDTime(%q) = %v, %v; want %v", id, got, ok, at.Truncate(time.Millisecond))
		}
	}
	// The timestamp is the first 10 characters, big-endian.
	if id := NewEventID(); id[5:15] != "01jpak7ym7" {
		t.Errorf("timestamp part of %q = %s", id, id[5:15])
	}
	for _, bad := range []string{
		"", "wevt_", "wevt_short",
		"xx_01jpak7ym70000000000000000",   // unknown prefix
		"wevt_01jpak7ym700000000000000",   // 24 characters
		"wevt_01jpak7ym7000000000000000u", // u is not Crockford
		"wevt_01JPAK7YM70000000000000000", // uppercase
		"wevt_81jpak7ym70000000000000000", // first character above 7
	} {
		if _, ok := IDTime(bad); ok {
			t.Errorf("IDTime(%q) ok", bad)
		}
	}
}

func TestIDUnique(t *testing.T) {
	const n = 10_000
	seen := make(map[string]bool, 3*n)
	for range n {
		for _, id := range []string{NewEventID(), NewDeliveryID(), NewEndpointID()} {
			if seen[id] {
				t.Fatalf("duplicate ID %q", id)
			}
			seen[id] = true
		}
	}
}

// TestIDUniqueFrozenClock generates many IDs within one millisecond, from
// several goroutines: they stay unique and increasing.
func TestIDUniqueFrozenClock(t *testing.T) {
	setClock(t, time.UnixMilli(1_700_000_000_000))
	const workers, per = 8, 2000
	out := make(chan []string, workers)
	for range workers {
		go func() {
			ids := make([]string, per)
			for i := range ids {
				ids[i] = NewEventID()
			}
			out <- ids
		}()
	}
	seen := map[string]bool{}
	for range workers {
		ids := <-out
		if !slices.IsSorted(ids) {
			t.Fatal("IDs from one goroutine are not increasing")
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("duplicate ID %q", id)
			}
			seen[id] = true
		}
	}
}

func TestIDSortsByTime(t *testing.T) {
	clock := setClock(t, time.Date(2025, 1, 1, 0, 0, 0, 999_900_000, time.UTC))
	var ids []string
	for step := range 20 {
		for range 5 {
			ids = append(ids, NewEventID())
		}
		// Cross millisecond (and carry) boundaries: +0.1ms, then +1ms, ...
		*clock = clock.Add(time.Duration(step%3) * 500 * time.Microsecond)
	}
	*clock = clock.Add(1000 * time.Hour)
	ids = append(ids, NewEventID())
	if !slices.IsSorted(ids) {
		t.Fatalf("IDs are not sorted by creation time:\n%s", strings.Join(ids, "\n"))
	}
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatal("duplicate IDs")
	}

	// Exactly across a millisecond boundary, from a fresh generator whose
	// first ID has the largest possible randomness.
	resetGen()
	*clock = time.UnixMilli(1_700_000_000_000)
	a := NewEventID()
	gen.Lock()
	gen.rand = [10]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	gen.Unlock()
	*clock = clock.Add(time.Millisecond)
	b := NewEventID()
	if !(a < b) {
		t.Fatalf("%q !< %q across a millisecond", a, b)
	}
	if ta, _ := IDTime(a); ta.UnixMilli() != 1_700_000_000_000 {
		t.Errorf("IDTime(a) = %v", ta)
	}
}

func TestIDClockBackwards(t *testing.T) {
	clock := setClock(t, time.UnixMilli(1_700_000_000_500))
	a := NewEventID()
	*clock = clock.Add(-time.Second)
	b := NewEventID()
	if !(a < b) {
		t.Fatalf("ID went backwards with the clock: %q then %q", a, b)
	}
	if tb, _ := IDTime(b); tb.UnixMilli() != 1_700_000_000_500 {
		t.Errorf("ID after a backwards step keeps the last time; got %v", tb)
	}
	// A pre-1970 clock clamps to zero instead of wrapping.
	resetGen()
	*clock = time.Unix(-100, 0)
	if tc, ok := IDTime(NewEventID()); !ok || tc.UnixMilli() != 0 {
		t.Errorf("pre-1970 ID time = %v, %v", tc, ok)
	}
}

func TestIDRandomnessExhausted(t *testing.T) {
	setClock(t, time.UnixMilli(1_700_000_000_000))
	a := NewEventID()
	gen.Lock()
	gen.rand = [10]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	gen.Unlock()
	b := NewEventID() // same millisecond, randomness overflows
	if !(a < b) {
		t.Fatalf("%q !< %q after overflow", a, b)
	}
	if tb, _ := IDTime(b); tb.UnixMilli() != 1_700_000_000_001 {
		t.Errorf("overflow should borrow the next millisecond, got %v", tb)
	}
}

func TestEncode128(t *testing.T) {
	tests := []struct {
		in   [16]byte
		want string
	}{
		{[16]byte{}, "00000000000000000000000000"},
		{[16]byte{15: 1}, "00000000000000000000000001"},
		{[16]byte{15: 31}, "0000000000000000000000000z"},
		{[16]byte{15: 32}, "00000000000000000000000010"},
		{[16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "7zzzzzzzzzzzzzzzzzzzzzzzzz"},
		{[16]byte{0x80}, "40000000000000000000000000"},
	}
	for _, tt := range tests {
		if got := encode128(tt.in); got != tt.want {
			t.Errorf("encode128(%x) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestStaticEndpointID(t *testing.T) {
	a := StaticEndpointID("billing")
	if a != StaticEndpointID("billing") {
		t.Fatal("StaticEndpointID is not stable")
	}
	// Pinned (computed independently): replicas on other builds and
	// restarts must agree, so the derivation must never change.
	if a != "we_7e0knkc5htna6cdagnyp5jeqcr" {
		t.Errorf("StaticEndpointID(billing) = %s; the derivation changed", a)
	}
	names := []string{"billing", "Billing", "billing ", "", "a", "b", "crm", "crm-eu", "crm\x00eu", strings.Repeat("x", 1000)}
	seen := map[string]string{}
	for _, n := range names {
		id := StaticEndpointID(n)
		if other, dup := seen[id]; dup {
			t.Errorf("StaticEndpointID(%q) = StaticEndpointID(%q) = %s", n, other, id)
		}
		seen[id] = n
	}
	for i := range 1000 {
		n := fmt.Sprintf("endpoint-%d", i)
		id := StaticEndpointID(n)
		if _, dup := seen[id]; dup {
			t.Fatalf("collision for %q", n)
		}
		seen[id] = n
	}
}

func TestSecretHint(t *testing.T) {
	tests := []struct{ secret, want string }{
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_…LaSw"},
		{"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "whsec_…b7oD"},
		{"sk_live_0123456789abcdefXYZW", "sk_…XYZW"},
		{"0123456789abcdefa1b2", "…a1b2"},             // no prefix
		{"whsec_short", "whsec_…"},                    // too short to show a tail
		{"whsec_0123456789abcde", "whsec_…"},          // 15 after the prefix
		{"whsec_0123456789abcdef", "whsec_…cdef"},     // 16 after the prefix
		{"hunter2", "…"},                              // short raw secret
		{"_0123456789abcdef", "…cdef"},                // empty prefix is not a prefix
		{"a1b2c3_0123456789abcdef", "…cdef"},          // digits: not a prefix
		{"abcdefghijk_0123456789abcdef", "…cdef"},     // 11 letters: not a prefix
		{"MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U", "…E43U"}, // base32-ish raw secret
		{"whsec_ééééééééééééé€€€€", "whsec_…€€€€"},    // runes, not bytes
		{"", ""},
	}
	for _, tt := range tests {
		if got := SecretHint(tt.secret); got != tt.want {
			t.Errorf("SecretHint(%q) = %q, want %q", tt.secret, got, tt.want)
		}
	}
}

func TestNewSigningSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := NewSigningSecret()
		b64, ok := strings.CutPrefix(s, "whsec_")
		if !ok || len(b64) != 32 {
			t.Fatalf("secret %q: want whsec_ + 32 base64 characters", s)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != 24 {
			t.Fatalf("secret %q does not decode to 24 bytes: %v", s, err)
		}
		if seen[s] {
			t.Fatal("duplicate secret")
		}
		seen[s] = true
		if h := SecretHint(s); h != "whsec_…"+s[len(s)-4:] {
			t.Errorf("SecretHint(%q) = %q", s, h)
		}
	}
}
