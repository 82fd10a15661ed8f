// Package signature is Hookguard's webhook signature engine. One Scheme
// describes a provider's signing rules as data (headers, signed content,
// algorithm, encoding, multi-signature syntax, key decoding, timestamp unit
// and where the signed event ID comes from) and both verifies inbound
// requests and signs outbound ones, so the dispatcher reuses every scheme.
//
// The package knows nothing of Caddy. Lookup returns the provider presets;
// NewHMAC builds a generic HMAC scheme.
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
)

// newHash returns the HMAC hash constructor.
func (a algorithm) newHash() func() hash.Hash {
	switch a {
	case algSHA1:
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
	case algSHA1:
		return sha1.Size
	case algSHA512:
		return sha512.Size
	case algEd25519:
		return ed25519.SignatureSize
	default:
		return sha256.Size
	}
}

// Scheme is one provider's signing rules. Get a preset from Lookup or a
// generic scheme from NewHMAC; the zero value is not usable. A Scheme is
// immutable and safe for concurrent use.
type Scheme struct {
	// Name is the preset name, or "hmac" for a scheme built by NewHMAC.
	Name string

	sigHeader   string      // the signature header
	tsHeader    string      // a separate timestamp header, if any
	idHeader    string      // a signed ID header, if any
	eventHeader string      // an unsigned header Sign sets to the ID (foil)
	idField     []string    // JSON path of the signed ID in the body, if any
	layout      layout      // syntax of the signature header
	content     template    // the signed content; nil for twilio
	alg         algorithm   // HMAC hash, Ed25519 or shared token
	enc         encoding    // signature encoding
	keyEnc      keyEncoding // how ParseSecret decodes a secret
	unit        tsUnit      // timestamp unit, tsNone if unsigned by time
	twilio      bool        // Twilio's URL-and-parameters content
}

// HasTimestamp reports whether the scheme signs a timestamp, and so whether
// Verify enforces a tolerance.
func (s *Scheme) HasTimestamp() bool { return s.unit != tsNone }

// Headers returns the names of the headers the scheme reads, signature
// header first.
func (s *Scheme) Headers() []string {
	names := []string{s.sigHeader}
	for _, n := range []string{s.tsHeader, s.idHeader} {
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
// tolerance is used as given (the caller supplies its default); zero
// accepts only a timestamp equal to now. Secrets that are not usable with
// the scheme are skipped, and ErrNoSecret is returned before anything else
// when none is.
func (s *Scheme) Verify(r Request, secrets []Secret, now time.Time, tolerance time.Duration) (Result, error) {
	if !s.usable(secrets) {
		return Result{}, ErrNoSecret
	}
	sigValue, err := readHeader(r.Header, s.sigHeader)
	if err != nil {
		return Result{}, err
	}
	c := content{method: r.Method, url: r.URL, body: r.Body}
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
	p, err := s.layout.parse(sigValue, s.enc)
	if err != nil {
		return Result{}, err
	}
	var res Result
	if s.unit != tsNone {
		if s.layout.format == fmtPairs {
			c.ts = p.ts
		}
		if res.Timestamp, err = parseTimestamp(c.ts, s.unit); err != nil {
			return Result{}, err
		}
		if err = checkTolerance(res.Timestamp, now, tolerance); err != nil {
			return Result{}, err
		}
	}
	var cands [][]byte
	for _, sig := range p.sigs {
		if b, ok := s.enc.decode(sig); ok && len(b) == s.alg.sigSize() {
			cands = append(cands, b)
		}
	}
	if len(cands) == 0 {
		return Result{}, fmt.Errorf("%w: no signature of the right length", ErrInvalidSignature)
	}
	idx, matched, err := s.match(c, cands, secrets)
	if err != nil {
		return Result{}, err
	}
	res.Secret = idx
	switch {
	case s.idHeader != "":
		res.ID = c.id
	case s.idField != nil:
		res.ID = jsonField(r.Body, s.idField)
	}
	if res.ID != "" {
		res.DedupeKey = "id:" + res.ID
	} else {
		sum := sha256.Sum256(matched)
		res.DedupeKey = "sig:" + hex.EncodeToString(sum[:])
	}
	return res, nil
}

// match finds the first secret whose signature is among cands and returns
// its index and the matching signature. Each secret's MAC is computed once
// (once per URL variant for twilio) and compared with every candidate.
func (s *Scheme) match(c content, cands [][]byte, secrets []Secret) (int, []byte, error) {
	if s.alg == algEd25519 {
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
	var msgs [][]byte
	if s.twilio {
		var err error
		if msgs, err = twilioVerifyMessages(c.url, c.body); err != nil {
			return 0, nil, err
		}
	}
	for i, sec := range secrets {
		if len(sec.key) == 0 {
			continue
		}
		for _, mac := range s.macs(sec.key, c, msgs) {
			for _, cand := range cands {
				if hmac.Equal(mac, cand) {
					return i, cand, nil
				}
			}
		}
	}
	return 0, nil, fmt.Errorf("%w: no secret matches", ErrInvalidSignature)
}

// macs computes the key's MAC over the scheme's content, or over each of
// msgs when the content was prepared beforehand (twilio).
func (s *Scheme) macs(key []byte, c content, msgs [][]byte) [][]byte {
	if msgs == nil {
		m := hmac.New(s.alg.newHash(), key)
		s.content.write(m, c)
		return [][]byte{m.Sum(nil)}
	}
	out := make([][]byte, 0, len(msgs))
	for _, msg := range msgs {
		m := hmac.New(s.alg.newHash(), key)
		m.Write(msg)
		out = append(out, m.Sum(nil))
	}
	return out
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
// the format allows it (standard and svix: space-separated; stripe: several
// v1=; paddle: several h1=); other formats sign with secrets[0] only. A
// scheme with a timestamp needs m.Timestamp, one with an ID header needs
// m.ID. Discord cannot sign: ErrCannotSign.
func (s *Scheme) Sign(m Message, secrets []Secret) (http.Header, error) {
	if s.alg == algEd25519 {
		return nil, fmt.Errorf("%w: %s verifies with a public key", ErrCannotSign, s.Name)
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
	if s.layout.format == fmtSingle {
		keys = keys[:1]
	}
	h := http.Header{}
	c := content{id: m.ID, method: m.Method, url: m.URL, body: m.Body}
	if s.unit != tsNone {
		if m.Timestamp.IsZero() {
			return nil, errors.New("message has no timestamp")
		}
		c.ts = formatTimestamp(m.Timestamp, s.unit)
		if s.tsHeader != "" {
			h.Set(s.tsHeader, c.ts)
		}
	}
	if s.idHeader != "" {
		if m.ID == "" {
			return nil, errors.New("message has no ID")
		}
		h.Set(s.idHeader, m.ID)
	}
	if s.eventHeader != "" && m.ID != "" {
		h.Set(s.eventHeader, m.ID)
	}
	if s.alg == algToken {
		h.Set(s.sigHeader, string(keys[0]))
		return h, nil
	}
	var msgs [][]byte
	if s.twilio {
		msg, err := twilioMessage(m.URL, m.Body)
		if err != nil {
			return nil, err
		}
		msgs = [][]byte{msg}
	}
	sigs := make([]string, len(keys))
	for i, key := range keys {
		sigs[i] = s.enc.encode(s.macs(key, c, msgs)[0])
	}
	h.Set(s.sigHeader, s.layout.write(c.ts, sigs))
	return h, nil
}
