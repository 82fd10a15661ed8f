package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// claimFormat is the first byte of every encoded claim. A new layout gets a
// new number, so a store written by an older build stays readable.
const claimFormat byte = 1

// errCorruptClaim is returned when a stored value cannot be decoded.
var errCorruptClaim = errors.New("store: corrupt claim record")

// encodeClaim serializes c compactly, with no base64 inflation of the body:
//
//	format (1 byte) | state (1 byte) | Expires as Unix nanoseconds (8 bytes, big endian) |
//	token (uvarint length, bytes) | status (varint) |
//	content type (uvarint length, bytes) | body (the rest)
func encodeClaim(c Claim) []byte {
	r := c.Response
	p := make([]byte, 0, 10+3*binary.MaxVarintLen64+len(c.Token)+len(r.ContentType)+len(r.Body))
	p = append(p, claimFormat, byte(c.State))
	p = binary.BigEndian.AppendUint64(p, uint64(c.Expires.UnixNano()))
	p = binary.AppendUvarint(p, uint64(len(c.Token)))
	p = append(p, c.Token...)
	p = binary.AppendVarint(p, int64(r.Status))
	p = binary.AppendUvarint(p, uint64(len(r.ContentType)))
	p = append(p, r.ContentType...)
	return append(p, r.Body...)
}

// decodeClaim parses a record written by encodeClaim. The returned body
// aliases p, so p must not be reused by the caller.
func decodeClaim(p []byte) (Claim, error) {
	if len(p) < 10 || p[0] != claimFormat {
		return Claim{}, errCorruptClaim
	}
	c := Claim{
		State:   State(p[1]),
		Expires: time.Unix(0, int64(binary.BigEndian.Uint64(p[2:10]))),
	}
	if c.State != InFlight && c.State != Done {
		return Claim{}, fmt.Errorf("%w: unknown state %d", errCorruptClaim, p[1])
	}
	p = p[10:]
	token, p, ok := readString(p)
	if !ok {
		return Claim{}, errCorruptClaim
	}
	status, n := binary.Varint(p)
	if n <= 0 {
		return Claim{}, errCorruptClaim
	}
	contentType, p, ok := readString(p[n:])
	if !ok {
		return Claim{}, errCorruptClaim
	}
	c.Token = token
	c.Response.Status = int(status)
	c.Response.ContentType = contentType
	if len(p) > 0 {
		c.Response.Body = p
	}
	return c, nil
}

// readString reads a uvarint-length-prefixed string from p and returns it
// with the rest of p.
func readString(p []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(p)
	if n <= 0 || l > uint64(len(p)-n) {
		return "", nil, false
	}
	end := n + int(l)
	return string(p[n:end]), p[end:], true
}
