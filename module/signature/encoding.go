package signature

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// encoding is how a scheme writes signature bytes into a header.
type encoding uint8

const (
	// encHex writes lowercase hex and accepts either case on verify, as
	// stripe-go, go-github and slack-go do (hex.DecodeString).
	encHex encoding = iota
	// encHexLower accepts lowercase hex only, as Paddle's SDK does
	// (regexp [a-f0-9]{64}).
	encHexLower
	// encBase64 is standard base64 in its canonical padded form only, as
	// every reference verifier that compares the encoded strings requires
	// (Standard Webhooks, Svix, Shopify, Twilio).
	encBase64
	// encBase64Loose is standard base64 with the padding optional on verify;
	// Sign writes it padded. It serves the generic hmac scheme.
	encBase64Loose
	// encBase64URL is the URL-safe alphabet without padding (Sanity).
	encBase64URL
)

// padded reports whether the encoding's alphabet includes '='.
func (e encoding) padded() bool { return e == encBase64 || e == encBase64Loose }

// String names the encoding in error details.
func (e encoding) String() string {
	switch e {
	case encHex:
		return "hex"
	case encHexLower:
		return "lowercase hex"
	case encBase64:
		return "padded base64"
	case encBase64URL:
		return "unpadded base64url"
	default:
		return "base64"
	}
}

// encode renders signature bytes the way Sign writes them.
func (e encoding) encode(b []byte) string {
	switch e {
	case encBase64, encBase64Loose:
		return base64.StdEncoding.EncodeToString(b)
	case encBase64URL:
		return base64.RawURLEncoding.EncodeToString(b)
	default:
		return hex.EncodeToString(b)
	}
}

// wellFormed reports whether s uses only the encoding's alphabet. A value
// that fails this check is malformed; one that passes but does not decode
// to a signature of the right length merely fails to match.
func (e encoding) wellFormed(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := false
		switch e {
		case encHex:
			ok = '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
		case encHexLower:
			ok = '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
		case encBase64URL:
			ok = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
		default:
			ok = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
				c == '+' || c == '/' || c == '='
		}
		if !ok {
			return false
		}
	}
	return true
}

// decode turns a well-formed value into signature bytes. It reports false
// when the value is not a complete encoding (odd hex, missing padding where
// padding is required, truncated base64).
func (e encoding) decode(s string) ([]byte, bool) {
	var (
		b   []byte
		err error
	)
	switch e {
	case encBase64:
		b, err = base64.StdEncoding.Strict().DecodeString(s)
	case encBase64URL:
		b, err = base64.RawURLEncoding.Strict().DecodeString(s)
	case encBase64Loose:
		if strings.HasSuffix(s, "=") {
			b, err = base64.StdEncoding.Strict().DecodeString(s)
		} else {
			b, err = base64.RawStdEncoding.Strict().DecodeString(s)
		}
	default:
		b, err = hex.DecodeString(s)
	}
	return b, err == nil
}
