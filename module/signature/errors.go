package signature

import "errors"

// Sentinel errors returned by Verify and Sign. They are always wrapped with
// %w and a short detail naming the header or rule at fault; a detail never
// contains a secret or a signature value. Test for them with errors.Is.
var (
	// ErrMissingSignature means a required signature, timestamp or ID header
	// (or the timestamp inside a Stripe-style header) is absent or empty.
	ErrMissingSignature = errors.New("missing signature")

	// ErrMalformedSignature means a signature header is present but cannot be
	// parsed: bad syntax, characters outside the scheme's encoding alphabet,
	// duplicate header lines, a repeated timestamp item, more than
	// MaxSignatures entries or a value longer than MaxHeaderBytes. It is
	// reported before any MAC is computed.
	ErrMalformedSignature = errors.New("malformed signature")

	// ErrMalformedTimestamp means a timestamp is not a plain, canonical
	// decimal integer ("+1", " 1", "1.7e9", "0x1", "-1", "01") or is out of
	// the representable range.
	ErrMalformedTimestamp = errors.New("malformed timestamp")

	// ErrInvalidSignature means the header is well formed but no configured
	// secret produced any of its signatures. Empty, truncated and
	// wrong-length signatures, and headers that carry only unknown version
	// tags, end here too.
	ErrInvalidSignature = errors.New("invalid signature")

	// ErrStaleTimestamp means the signed timestamp lies further than the
	// tolerance from now, in either direction.
	ErrStaleTimestamp = errors.New("stale timestamp")

	// ErrCannotSign is returned by Sign for a verify-only scheme, such as
	// discord, whose secret is a public key.
	ErrCannotSign = errors.New("scheme cannot sign")

	// ErrNoSecret is returned by Verify and Sign when the secrets slice holds
	// no secret usable with the scheme (empty, or only zero Secrets that did
	// not come from ParseSecret). It is a configuration error, not a
	// property of the request.
	ErrNoSecret = errors.New("no usable secret")
)
