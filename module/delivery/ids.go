package delivery

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// now is the clock the ID generator reads; tests replace it.
var now = time.Now

// ID prefixes. Every generated or derived ID is one of these followed by
// IDChars characters.
const (
	EventIDPrefix    = "wevt_"
	DeliveryIDPrefix = "wdlv_"
	EndpointIDPrefix = "we_"
	SecretPrefix     = "whsec_"
)

// IDChars is the length of an ID after its prefix: 128 bits in Crockford
// base32.
const IDChars = 26

// crockford is Crockford's base32 alphabet, lowercase. Its characters are in
// ASCII order, so IDs of one length sort as their bits do.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewEventID returns a new event ID, "wevt_" followed by IDChars characters.
// See newID for the layout and ordering.
func NewEventID() string { return newID(EventIDPrefix) }

// NewDeliveryID returns a new delivery ID, "wdlv_" followed by IDChars
// characters. See newID for the layout and ordering.
func NewDeliveryID() string { return newID(DeliveryIDPrefix) }

// NewEndpointID returns a new ID for an endpoint created through the admin
// API, "we_" followed by IDChars characters. See newID for the layout and
// ordering; static endpoints use StaticEndpointID instead.
func NewEndpointID() string { return newID(EndpointIDPrefix) }

// gen holds the last ID's time and randomness, so that IDs made in the same
// millisecond still increase.
var gen struct {
	sync.Mutex
	ms   uint64
	rand [10]byte
}

// newID returns prefix plus a ULID-style 128-bit value: a 48-bit Unix
// millisecond timestamp, big-endian, then 80 bits from crypto/rand, in
// lowercase Crockford base32. IDs of one kind therefore sort by creation
// time as plain strings (and as store keys), which "newest first" listings
// and cursors rely on; the first character is always 0-7.
//
// Within one process IDs are strictly increasing: an ID made in the same
// millisecond as the previous one (or while the clock stands behind it)
// keeps the previous timestamp and adds a random 32-bit step, plus one, to
// the previous randomness, so it still carries 32 unpredictable bits. Across
// processes and replicas the order is by millisecond only, and ties break
// arbitrarily but stably.
func newID(prefix string) string {
	t := now().UnixMilli()
	ms := uint64(max(t, 0)) & (1<<48 - 1)

	var b [16]byte
	gen.Lock()
	if ms > gen.ms {
		gen.ms = ms
		_, _ = rand.Read(gen.rand[:]) // crypto/rand.Read never fails
	} else if !increment(&gen.rand) {
		// 80 bits exhausted within one millisecond: borrow the next one.
		gen.ms++
		_, _ = rand.Read(gen.rand[:])
	}
	binary.BigEndian.PutUint64(b[0:8], gen.ms<<16)
	copy(b[6:], gen.rand[:])
	gen.Unlock()
	return prefix + encode128(b)
}

// increment adds a random step in [1, 2^32] to the 80-bit big-endian value
// r, and reports false (leaving r unspecified) if it overflowed.
func increment(r *[10]byte) bool {
	var s [4]byte
	_, _ = rand.Read(s[:])
	carry := uint64(binary.BigEndian.Uint32(s[:])) + 1
	for i := len(r) - 1; i >= 0 && carry > 0; i-- {
		sum := uint64(r[i]) + carry
		r[i] = byte(sum)
		carry = sum >> 8
	}
	return carry == 0
}

// encode128 renders 128 bits as IDChars Crockford base32 characters, most
// significant first; the first character holds the top 3 bits.
func encode128(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [IDChars]byte
	for i := IDChars - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// IDTime returns the creation time, to the millisecond, encoded in an ID
// made by NewEventID, NewDeliveryID or NewEndpointID. ok is false if id has
// no known prefix or is malformed. For a StaticEndpointID the result is
// meaningless.
func IDTime(id string) (t time.Time, ok bool) {
	var body string
	for _, p := range []string{EventIDPrefix, DeliveryIDPrefix, EndpointIDPrefix} {
		if rest, found := strings.CutPrefix(id, p); found {
			body = rest
			break
		}
	}
	if len(body) != IDChars || body[0] > '7' {
		return time.Time{}, false
	}
	var ms uint64
	for i := 0; i < IDChars; i++ {
		v := strings.IndexByte(crockford, body[i])
		if v < 0 {
			return time.Time{}, false
		}
		if i < 10 { // the first 10 characters hold 50 bits: 2 zero bits, then the 48-bit time
			ms = ms<<5 | uint64(v)
		}
	}
	return time.UnixMilli(int64(ms)), true
}

// StaticEndpointID returns the ID of an endpoint declared in the Caddyfile:
// "we_" followed by IDChars characters derived from a SHA-256 of name, so
// every replica and every restart agrees on it without storing anything.
// Different names give different IDs (barring a 128-bit hash collision). The
// format matches NewEndpointID, but the value does not sort by time.
func StaticEndpointID(name string) string {
	sum := sha256.Sum256([]byte("hookguard static endpoint\x00" + name))
	var b [16]byte
	copy(b[:], sum[:16])
	return EndpointIDPrefix + encode128(b)
}

// SecretHint returns a short, safe label for a secret, such as
// "whsec_…a1b2", so that operators can tell secrets apart without seeing
// them:
//
//   - a prefix is kept when the secret starts with 1 to 10 ASCII letters and
//     an underscore ("whsec_", "sk_"); anything else is treated as secret;
//   - then an ellipsis "…";
//   - then the last four characters, but only when at least 16 characters
//     follow the prefix, so that a short secret is never mostly revealed.
//
// An empty secret gives "".
func SecretHint(secret string) string {
	if secret == "" {
		return ""
	}
	prefix, rest := "", secret
	if i := strings.IndexByte(secret, '_'); i >= 1 && i <= 10 && isASCIILetters(secret[:i]) {
		prefix, rest = secret[:i+1], secret[i+1:]
	}
	hint := prefix + "…"
	if n := utf8.RuneCountInString(rest); n >= 16 {
		tail := rest
		for range n - 4 {
			_, size := utf8.DecodeRuneInString(tail)
			tail = tail[size:]
		}
		hint += tail
	}
	return hint
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// NewSigningSecret returns a new endpoint signing secret: "whsec_" followed
// by the standard base64 encoding (with padding) of 24 bytes from
// crypto/rand, the form Standard Webhooks libraries accept.
func NewSigningSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}
