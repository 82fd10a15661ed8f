package signature

import (
	"errors"
	"fmt"
	"strings"
)

// HMACConfig configures the generic "hmac" scheme: one signature value,
// after an optional prefix, in one header.
type HMACConfig struct {
	// SignatureHeader is the header carrying the signature. Required.
	SignatureHeader string
	// TimestampHeader, if set, carries a Unix timestamp in seconds that
	// must appear in SignedPayload as {timestamp}; Verify then enforces the
	// tolerance.
	TimestampHeader string
	// IDHeader, if set, carries the event ID; it counts as signed only
	// because SignedPayload must contain {id}. Exclusive with IDField.
	IDHeader string
	// IDField, if set, is a dotted JSON path ("id", "data.id") to the event
	// ID in the signed body, read only after verification. Exclusive with
	// IDHeader.
	IDField string
	// SignedPayload is the signed-content template over {id} {timestamp}
	// {body} {method} {url}; it must contain {body}. Default "{body}".
	SignedPayload string
	// Algorithm is sha1, sha256 or sha512. Default sha256.
	Algorithm string
	// Encoding is hex (either case accepted) or base64 (standard alphabet,
	// padding optional on verify). Default hex.
	Encoding string
	// Prefix precedes the encoded signature, such as "sha256=" or "v1,".
	Prefix string
	// SecretEncoding is raw, base64 (after stripping "whsec_") or hex.
	// Default raw.
	SecretEncoding string
}

// NewHMAC builds the generic "hmac" scheme and validates the config: the
// signature header is required; algorithm, encoding and secret encoding
// must be known; the template must parse and contain {body}; {id} needs
// IDHeader and IDHeader needs {id}; {timestamp} needs TimestampHeader and
// TimestampHeader needs {timestamp}; IDHeader and IDField are exclusive.
func NewHMAC(c HMACConfig) (*Scheme, error) {
	s := &Scheme{
		Name:      "hmac",
		sigHeader: c.SignatureHeader,
		tsHeader:  c.TimestampHeader,
		idHeader:  c.IDHeader,
		layout:    layout{prefix: c.Prefix},
	}
	for _, h := range []struct{ what, name string }{
		{"signature header", c.SignatureHeader},
		{"timestamp header", c.TimestampHeader},
		{"ID header", c.IDHeader},
	} {
		if h.name != "" && !validHeaderName(h.name) {
			return nil, fmt.Errorf("hmac: invalid %s name %q", h.what, h.name)
		}
	}
	if c.SignatureHeader == "" {
		return nil, errors.New("hmac: signature header is required")
	}
	if strings.EqualFold(c.SignatureHeader, c.TimestampHeader) || strings.EqualFold(c.SignatureHeader, c.IDHeader) ||
		c.TimestampHeader != "" && strings.EqualFold(c.TimestampHeader, c.IDHeader) {
		return nil, errors.New("hmac: signature, timestamp and ID headers must differ")
	}

	switch strings.ToLower(c.Algorithm) {
	case "", "sha256":
		s.alg = algSHA256
	case "sha1":
		s.alg = algSHA1
	case "sha512":
		s.alg = algSHA512
	default:
		return nil, fmt.Errorf("hmac: unknown algorithm %q (want sha1, sha256 or sha512)", c.Algorithm)
	}
	switch strings.ToLower(c.Encoding) {
	case "", "hex":
		s.enc = encHex
	case "base64":
		s.enc = encBase64Loose
	default:
		return nil, fmt.Errorf("hmac: unknown encoding %q (want hex or base64)", c.Encoding)
	}
	switch strings.ToLower(c.SecretEncoding) {
	case "", "raw":
		s.keyEnc = keyRaw
	case "base64":
		s.keyEnc = keyBase64
	case "hex":
		s.keyEnc = keyHex
	default:
		return nil, fmt.Errorf("hmac: unknown secret encoding %q (want raw, base64 or hex)", c.SecretEncoding)
	}

	payload := c.SignedPayload
	if payload == "" {
		payload = "{body}"
	}
	var err error
	if s.content, err = parseTemplate(payload); err != nil {
		return nil, fmt.Errorf("hmac: %w", err)
	}
	if !s.content.has(fieldBody) {
		return nil, errors.New("hmac: signed payload must contain {body}")
	}
	if s.content.has(fieldID) != (c.IDHeader != "") {
		return nil, errors.New("hmac: signed payload must contain {id} exactly when an ID header is set")
	}
	if s.content.has(fieldTimestamp) != (c.TimestampHeader != "") {
		return nil, errors.New("hmac: signed payload must contain {timestamp} exactly when a timestamp header is set")
	}
	if c.TimestampHeader != "" {
		s.unit = tsSeconds
	}
	if c.IDField != "" {
		if c.IDHeader != "" {
			return nil, errors.New("hmac: ID header and ID field are exclusive")
		}
		if s.idField, err = parseFieldPath(c.IDField); err != nil {
			return nil, fmt.Errorf("hmac: %w", err)
		}
	}
	return s, nil
}

// validHeaderName reports whether name is an HTTP field name (RFC 9110
// token).
func validHeaderName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
