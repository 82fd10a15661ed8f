// Package signature is Hookguard's webhook signature engine. It both
// verifies inbound requests and signs outbound ones, so the dispatcher
// reuses every scheme.
//
// A family of signing schemes is code and a provider is data: the families
// that differ only in headers, signed content, algorithm, encoding,
// multi-signature syntax, key decoding and timestamp unit (A: Standard
// Webhooks aliases, B: a timestamp inside the signature header, C: a
// separate timestamp, D: the body alone) are one generic path over a
// Scheme's data fields, and each of their presets is one row in a
// presets_*.go table. A family that data cannot describe plugs in through
// the custom hook.
//
// The package knows nothing of Caddy. Lookup returns the provider presets,
// Describe documents them, and NewHMAC builds a generic HMAC scheme.
package signature

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"time"
)

// Request is an inbound webhook as Verify sees it.
type Request struct {
	// Header holds the request headers.
	Header http.Header
	// Body is the raw body, exactly as received.
	Body []byte
	// Method is the HTTP method, such as "POST".
	Method string
	// URL is the absolute URL as the sender addressed it:
	// scheme://host/path?query.
	URL string
}

// Result describes a verified request.
type Result struct {
	// ID is the signed event ID, or "" if the scheme has none or the signed
	// body does not carry one.
	ID string
	// Timestamp is the signed timestamp, zero if the scheme has none.
	Timestamp time.Time
	// Secret is the index, in the secrets passed to Verify, of the secret
	// that matched.
	Secret int
	// DedupeKey identifies the delivery from signed material only:
	// "id:"+ID when there is a signed ID; otherwise "sig:" plus the hex
	// SHA-256 of the matched signature bytes; for a shared-token scheme,
	// which covers no content, "body:" plus the hex SHA-256 of the body.
	DedupeKey string
}

// Message is an outbound event as Sign sees it.
type Message struct {
	// ID is the event ID, written to the scheme's ID header if it has one.
	ID string
	// Timestamp is the signing time; required when the scheme has a
	// timestamp.
	Timestamp time.Time
	// Body is the exact body that will be sent.
	Body []byte
	// Method is the HTTP method that will be used.
	Method string
	// URL is the absolute URL the request will be sent to.
	URL string
}

// algorithm is how a scheme authenticates content.
type algorithm uint8

const (
	algSHA256 algorithm = iota
	algSHA1
	algSHA512
	// algEd25519 verifies an Ed25519 signature with a public key.
	algEd25519
	// algToken compares a header with the secret itself (GitLab).
	algToken
	// algPlainSHA1 is a plain SHA-1 digest of the content followed by the
	// secret, not an HMAC (Cloudinary).
	algPlainSHA1
)

// newHash returns the hash constructor, for HMAC or a plain digest.
func (a algorithm) newHash() func() hash.Hash {
	switch a {
	case algSHA1, algPlainSHA1:
		return sha1.New
	case algSHA512:
		return sha512.New
	default:
		return sha256.New
	}
}

// sigSize is the length in bytes of a valid signature.
func (a algorithm) sigSize() int {
	switch a {
	case algSHA1, algPlainSHA1:
		return sha1.Size
	case algSHA512:
		return sha512.Size
	case algEd25519:
		return ed25519.SignatureSize
	default:
		return sha256.Size
	}
}

// custom is the hook for a family the data fields cannot describe (URL
// content, asymmetric keys, JWTs, shared tokens). When a Scheme has one,
// Verify and Sign delegate to it after their common checks; it may use the
// Scheme's data fields and the helpers candidates, matchMessages and
// result. It may also implement keyParser and describer.
type custom interface {
	verify(s *Scheme, r Request, secrets []Secret, now time.Time, tolerance time.Duration) (Result, error)
	sign(s *Scheme, m Message, secrets []Secret) (http.Header, error)
}

// keyParser is implemented by a custom family whose secrets are not raw,
// base64 or hex HMAC keys. It returns the key bytes or an error that does
// not contain the value; ParseSecret applies no length rule of its own.
type keyParser interface {
	parseKey(value string) ([]byte, error)
}

// Scheme is one provider's signing rules. Get a preset from Lookup or a
// generic scheme from NewHMAC; the zero value is not usable. A Scheme is
// immutable and safe for concurrent use.
type Scheme struct {
	// Name is the preset name, or "hmac" for a scheme built by NewHMAC.
	Name string

	sigHeader   string      // the signature header
	altHeaders  []string    // optional further headers with signatures by other keys (Box, DocuSign)
	tsHeader    string      // a separate timestamp header, if any
	idHeader    string      // a signed ID header, if any
	eventHeader string      // an unsigned header Sign sets to the ID (foil)
	idField     []string    // JSON path of the signed ID in the body, if any
	fields      bodyFields  // signature and timestamp carried in the body (Mailgun, Linear)
	layout      layout      // syntax of the signature header
	content     template    // the signed content
	url         urlForm     // how {url} is written
	alg         algorithm   // HMAC hash, plain digest, Ed25519 or shared token
	enc         encoding    // signature encoding
	keyEnc      keyEncoding // how ParseSecret decodes a secret
	unit        tsUnit      // timestamp unit, tsNone if unsigned by time
	tolerance   time.Duration
	custom      custom // bespoke verification and signing, if any
	doc         doc    // how Describe presents the preset
}

// HasTimestamp reports whether the scheme signs a timestamp, and so whether
// Verify enforces a tolerance.
func (s *Scheme) HasTimestamp() bool { return s.unit != tsNone }

// DefaultTolerance is the provider's recommended timestamp tolerance, or 0
// when it recommends none (the caller then applies its own default).
func (s *Scheme) DefaultTolerance() time.Duration { return s.tolerance }

// CanSign reports whether Sign can produce a request for the scheme: not
// when its secret is a public key, nor when the sender writes the
// signature or timestamp into the body itself.
func (s *Scheme) CanSign() bool {
	if s.custom != nil {
		if c, ok := s.custom.(interface{ canSign() bool }); ok {
			return c.canSign()
		}
		return true
	}
	return s.alg != algEd25519 && !s.fields.any()
}

// Headers returns the names of the headers the scheme reads, signature
// header first and optional ones last.
func (s *Scheme) Headers() []string {
	return append(s.requiredHeaders(), s.altHeaders...)
}

// requiredHeaders are the headers without which Verify refuses a request.
func (s *Scheme) requiredHeaders() []string {
	var names []string
	for _, n := range []string{s.sigHeader, s.tsHeader, s.idHeader} {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

// Verify checks r against every secret and returns what the signature
// covers. The order is fixed: required headers present, header syntax and
// limits, timestamp syntax and tolerance (|now-ts| <= tolerance), then one
// MAC per secret compared in constant time with every candidate signature,
// and only after a match, the event ID from signed material. Unknown
// version tags are ignored, never trusted. It never panics.
//
// tolerance is used as given (the caller supplies its default, see
// DefaultTolerance); zero accepts only a timestamp equal to now. Secrets
// that are not usable with the scheme are skipped, and ErrNoSecret is
// returned before anything else when none is.
func (s *Scheme) Verify(r Request, secrets []Secret, now time.Time, tolerance time.Duration) (Result, error) {
	if !s.usable(secrets) {
		return Result{}, ErrNoSecret
	}
	if s.custom != nil {
		return s.custom.verify(s, r, secrets, now, tolerance)
	}
	var (
		sigValue string
		err      error
		c        = content{method: r.Method, url: s.url.apply(r.URL), body: r.Body}
		fv       fieldValues
	)
	if s.fields.any() {
		if fv, err = s.fields.read(r.Body); err != nil {
			return Result{}, err
		}
		sigValue, c.ts = fv.sig, fv.ts
	}
	if s.sigHeader != "" {
		if sigValue, err = readHeader(r.Header, s.sigHeader); err != nil {
			return Result{}, err
		}
	}
	if s.tsHeader != "" {
		if c.ts, err = readHeader(r.Header, s.tsHeader); err != nil {
			return Result{}, err
		}
	}
	if s.idHeader != "" {
		if c.id, err = readHeader(r.Header, s.idHeader); err != nil {
			return Result{}, err
		}
	}
	if s.alg == algToken {
		return s.verifyToken(sigValue, r.Body, secrets)
	}
	var sigBuf [4]string
	p, err := s.layout.parseInto(sigBuf[:0], sigValue, s.enc)
	if err != nil {
		return Result{}, err
	}
	for _, name := range s.altHeaders {
		if err := s.parseAlt(r.Header, name, &p); err != nil {
			return Result{}, err
		}
	}
	var res Result
	if s.unit != tsNone {
		// The signature header carries the timestamp only when it has a
		// timestamp item or leads with one; Orb's "v1=a v1=b" list does not.
		if s.layout.format == fmtPairs && s.layout.tsKey != "" || s.layout.format == fmtLeading {
			c.ts = p.ts
		}
		if res.Timestamp, err = parseTimestamp(c.ts, s.unit); err != nil {
			return Result{}, err
		}
		if err = checkTolerance(res.Timestamp, now, tolerance); err != nil {
			return Result{}, err
		}
	}
	var candBuf [4][]byte
	cands, err := s.appendCandidates(candBuf[:0], p.sigs)
	if err != nil {
		return Result{}, err
	}
	if s.content.has(fieldID) && c.id == "" {
		c.id = fv.id // signed: the template covers it
	}
	var idx int
	var matched []byte
	if s.alg == algEd25519 {
		idx, matched, err = s.matchEd25519(c, cands, secrets)
	} else {
		idx, matched, err = s.matchContent(c, cands, secrets)
	}
	if err != nil {
		return Result{}, err
	}
	switch {
	case c.id != "":
		res.ID = c.id
	case s.idField != nil:
		res.ID = jsonField(r.Body, s.idField)
	}
	return s.result(res, idx, matched), nil
}

// parseAlt adds the signatures of an optional further header to p.
func (s *Scheme) parseAlt(h http.Header, name string, p *parsed) error {
	v, err := readHeader(h, name)
	if errors.Is(err, ErrMissingSignature) {
		return nil
	}
	if err != nil {
		return err
	}
	alt, err := s.layout.parse(v, s.enc)
	if err != nil {
		return err
	}
	if len(p.sigs)+len(alt.sigs) > MaxSignatures {
		return fmt.Errorf("%w: more than %d signatures", ErrMalformedSignature, MaxSignatures)
	}
	p.sigs = append(p.sigs, alt.sigs...)
	return nil
}

// candidates decodes encoded signatures, keeping those of the algorithm's
// length. None left is ErrInvalidSignature.
func (s *Scheme) candidates(sigs []string) ([][]byte, error) {
	return s.appendCandidates(make([][]byte, 0, len(sigs)), sigs)
}

// appendCandidates is candidates appending to cands, so that a caller can
// offer a buffer on its stack.
func (s *Scheme) appendCandidates(cands [][]byte, sigs []string) ([][]byte, error) {
	for _, sig := range sigs {
		if b, ok := s.enc.decode(sig); ok && len(b) == s.alg.sigSize() {
			cands = append(cands, b)
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: no signature of the right length", ErrInvalidSignature)
	}
	return cands, nil
}

// result completes res with the secret index and the dedupe key: the
// signed ID when there is one, else the hash of the matched signature.
func (s *Scheme) result(res Result, secret int, matched []byte) Result {
	res.Secret = secret
	if res.ID != "" {
		res.DedupeKey = "id:" + res.ID
	} else {
		sum := sha256.Sum256(matched)
		res.DedupeKey = "sig:" + hex.EncodeToString(sum[:])
	}
	return res
}

// matchEd25519 finds the first public key that signed the content.
func (s *Scheme) matchEd25519(c content, cands [][]byte, secrets []Secret) (int, []byte, error) {
	var msg bytes.Buffer
	s.content.write(&msg, c)
	for i, sec := range secrets {
		if len(sec.key) != ed25519.PublicKeySize {
			continue
		}
		for _, cand := range cands {
			if ed25519.Verify(ed25519.PublicKey(sec.key), msg.Bytes(), cand) {
				return i, cand, nil
			}
		}
	}
	return 0, nil, fmt.Errorf("%w: no public key matches", ErrInvalidSignature)
}

// matchContent finds the first secret whose MAC over the scheme's content
// is among cands, and returns its index and the matching signature. Each
// secret's MAC is computed once and compared with every candidate.
func (s *Scheme) matchContent(c content, cands [][]byte, secrets []Secret) (int, []byte, error) {
	for i, sec := range secrets {
		if len(sec.key) == 0 {
			continue
		}
		mac := s.secretMAC(sec, &c, nil)
		for _, cand := range cands {
			if hmac.Equal(mac, cand) {
				return i, cand, nil
			}
		}
	}
	return 0, nil, fmt.Errorf("%w: no secret matches", ErrInvalidSignature)
}

// matchMessages is matchContent for content prepared by a custom family:
// any of msgs signed by any secret matches.
func (s *Scheme) matchMessages(msgs [][]byte, cands [][]byte, secrets []Secret) (int, []byte, error) {
	for i, sec := range secrets {
		if len(sec.key) == 0 {
			continue
		}
		for _, msg := range msgs {
			mac := s.secretMAC(sec, nil, msg)
			for _, cand := range cands {
				if hmac.Equal(mac, cand) {
					return i, cand, nil
				}
			}
		}
	}
	return 0, nil, fmt.Errorf("%w: no secret matches", ErrInvalidSignature)
}

// secretMAC is mac for a parsed secret: an HMAC state keyed with it is
// taken from its pool and Reset, rather than keyed anew, and the template's
// text parts go through the pooled buffer rather than fresh conversions.
func (s *Scheme) secretMAC(sec Secret, c *content, msg []byte) []byte {
	if sec.macs == nil || s.alg > algSHA512 {
		return s.mac(sec.key, c, msg)
	}
	pool := &sec.macs[s.alg]
	m, _ := pool.Get().(*pooledMAC)
	if m == nil {
		m = &pooledMAC{h: hmac.New(s.alg.newHash(), sec.key)}
	} else {
		m.h.Reset()
	}
	if c != nil {
		m.buf = s.content.writeBuffered(m.h, *c, m.buf)
	} else {
		m.h.Write(msg)
	}
	out := m.h.Sum(nil)
	pool.Put(m)
	return out
}

// mac computes the scheme's MAC with key over the template rendered from
// c, or over msg when c is nil: an HMAC, or for algPlainSHA1 a digest of
// the content followed by the key.
func (s *Scheme) mac(key []byte, c *content, msg []byte) []byte {
	var h hash.Hash
	if s.alg == algPlainSHA1 {
		h = s.alg.newHash()()
	} else {
		h = hmac.New(s.alg.newHash(), key)
	}
	if c != nil {
		s.content.write(h, *c)
	} else {
		h.Write(msg)
	}
	if s.alg == algPlainSHA1 {
		h.Write(key)
	}
	return h.Sum(nil)
}

// verifyToken compares a shared-token header with each secret in constant
// time, by comparing SHA-256 digests so that lengths do not leak either.
func (s *Scheme) verifyToken(token string, body []byte, secrets []Secret) (Result, error) {
	got := sha256.Sum256([]byte(token))
	for i, sec := range secrets {
		if len(sec.key) == 0 {
			continue
		}
		want := sha256.Sum256(sec.key)
		if hmac.Equal(got[:], want[:]) {
			sum := sha256.Sum256(body)
			return Result{Secret: i, DedupeKey: "body:" + hex.EncodeToString(sum[:])}, nil
		}
	}
	return Result{}, fmt.Errorf("%w: token matches no secret", ErrInvalidSignature)
}

// usable reports whether at least one secret can be used with the scheme.
func (s *Scheme) usable(secrets []Secret) bool {
	for _, sec := range secrets {
		if len(sec.key) > 0 && (s.alg != algEd25519 || len(sec.key) == ed25519.PublicKeySize) {
			return true
		}
	}
	return false
}

// Sign returns the headers to set on an outbound request: the signature
// header, and the timestamp and ID headers where the scheme has them.
// Several secrets (rotation) give several signatures in one header where
// the format allows it (Standard Webhooks: space-separated; Stripe: several
// v1=; Paddle: several h1=); other formats sign with secrets[0] only. A
// scheme with a timestamp needs m.Timestamp, one with an ID header needs
// m.ID. A scheme for which CanSign is false returns ErrCannotSign.
func (s *Scheme) Sign(m Message, secrets []Secret) (http.Header, error) {
	if !s.CanSign() {
		return nil, fmt.Errorf("%w: %s is verify-only", ErrCannotSign, s.Name)
	}
	var keys [][]byte
	for _, sec := range secrets {
		if len(sec.key) > 0 {
			keys = append(keys, sec.key)
		}
	}
	if len(keys) == 0 {
		return nil, ErrNoSecret
	}
	if s.custom != nil {
		return s.custom.sign(s, m, secrets)
	}
	if !s.layout.multi() {
		keys = keys[:1]
	}
	h := make(http.Header, 3)
	c := content{id: m.ID, method: m.Method, url: s.url.apply(m.URL), body: m.Body}
	if s.unit != tsNone {
		if m.Timestamp.IsZero() {
			return nil, errors.New("message has no timestamp")
		}
		c.ts = formatTimestamp(m.Timestamp, s.unit)
		if s.tsHeader != "" {
			setHeader(h, s.tsHeader, c.ts)
		}
	}
	if s.idHeader != "" {
		if m.ID == "" {
			return nil, errors.New("message has no ID")
		}
		setHeader(h, s.idHeader, m.ID)
	}
	if s.eventHeader != "" && m.ID != "" {
		setHeader(h, s.eventHeader, m.ID)
	}
	if s.alg == algToken {
		setHeader(h, s.sigHeader, string(keys[0]))
		return h, nil
	}
	sigs := make([]string, len(keys))
	for i, key := range keys {
		sigs[i] = s.enc.encode(s.mac(key, &c, nil))
	}
	setHeader(h, s.sigHeader, s.layout.write(c.ts, sigs))
	return h, nil
}
