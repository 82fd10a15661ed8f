package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Family G: a JWT in a header, HMAC-SHA256 with the shared secret, whose
// claims bind the SHA-256 of the body and, for some providers, the URL.
// The parser is strict on purpose: the algorithm is pinned to HS256 (so
// "none" and every asymmetric algorithm are refused), every segment is
// canonical unpadded base64url, a "crit" header is refused, and exp, nbf
// and iat are checked against the clock with the route's tolerance.

// jwtFamily is one provider's claim rules.
type jwtFamily struct {
	bearer       bool   // the header value is "Bearer <jwt>"
	issuer       string // required "iss", "" when the provider sets none
	bodyClaim    string // claim holding the SHA-256 of the body
	bodyBase64   bool   // that hash is base64url (padding optional), else hex
	bodyOptional bool   // the claim is omitted for an empty body
	urlClaim     string // claim binding the URL, "" if none
	urlHashed    bool   // urlClaim holds the hex SHA-256 of the URL, not the URL
	timeClaim    string // the claim that is the request's timestamp, "" if none
}

// jwtLifetime is how long Sign's tokens live (exp - iat), as QStash's.
const jwtLifetime = 5 * time.Minute

// jwtToken is a structurally valid HS256 JWT, not yet authenticated.
type jwtToken struct {
	signingInput string // "<header>.<payload>", the MAC's input
	sig          []byte
	claims       map[string]json.RawMessage
}

// parseJWT splits and decodes a compact JWT. Anything but three canonical
// base64url segments, a JSON object header whose alg is exactly HS256 with
// no crit, a JSON object payload and a 32-byte signature is refused before
// any MAC is computed.
func parseJWT(tok string) (jwtToken, error) {
	var t jwtToken
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return t, fmt.Errorf("%w: JWT is not three dot-separated segments", ErrMalformedSignature)
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil || len(b) == 0 {
			return t, fmt.Errorf("%w: JWT segment %d is not canonical base64url", ErrMalformedSignature, i+1)
		}
		raw[i] = b
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[0], &hdr); err != nil || hdr == nil {
		return t, fmt.Errorf("%w: JWT header is not a JSON object", ErrMalformedSignature)
	}
	var alg string
	if err := json.Unmarshal(hdr["alg"], &alg); err != nil || alg != "HS256" {
		return t, fmt.Errorf("%w: JWT algorithm is not HS256", ErrInvalidSignature)
	}
	if _, ok := hdr["crit"]; ok {
		return t, fmt.Errorf("%w: JWT header has crit extensions", ErrInvalidSignature)
	}
	if err := json.Unmarshal(raw[1], &t.claims); err != nil || t.claims == nil {
		return t, fmt.Errorf("%w: JWT payload is not a JSON object", ErrMalformedSignature)
	}
	if len(raw[2]) != sha256.Size {
		return t, fmt.Errorf("%w: JWT signature is not %d bytes", ErrInvalidSignature, sha256.Size)
	}
	t.signingInput = parts[0] + "." + parts[1]
	t.sig = raw[2]
	return t, nil
}

// match returns the index of the first secret whose HMAC-SHA256 of the
// signing input is the token's signature.
func (t jwtToken) match(secrets []Secret) (int, error) {
	for i, sec := range secrets {
		if len(sec.key) == 0 {
			continue
		}
		m := hmac.New(sha256.New, sec.key)
		m.Write([]byte(t.signingInput))
		if hmac.Equal(m.Sum(nil), t.sig) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: no secret matches the JWT", ErrInvalidSignature)
}

// str returns a string claim; present reports whether the claim exists.
func (t jwtToken) str(name string) (v string, present bool, err error) {
	raw, ok := t.claims[name]
	if !ok {
		return "", false, nil
	}
	if json.Unmarshal(raw, &v) != nil {
		return "", true, fmt.Errorf("%w: JWT claim %s is not a string", ErrInvalidSignature, name)
	}
	return v, true, nil
}

// date returns a NumericDate claim, which must be a plain non-negative
// integer number of seconds.
func (t jwtToken) date(name string) (time.Time, bool, error) {
	raw, ok := t.claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	ts, err := parseTimestamp(string(raw), tsSeconds)
	if err != nil {
		return time.Time{}, true, fmt.Errorf("JWT claim %s: %w", name, err)
	}
	return ts, true, nil
}

// checkTimes enforces exp, nbf and iat with the tolerance as leeway, and
// returns the family's timestamp claim.
func (f jwtFamily) checkTimes(t jwtToken, now time.Time, tolerance time.Duration) (time.Time, error) {
	exp, hasExp, err := t.date("exp")
	if err != nil {
		return time.Time{}, err
	}
	nbf, hasNbf, err := t.date("nbf")
	if err != nil {
		return time.Time{}, err
	}
	iat, hasIat, err := t.date("iat")
	if err != nil {
		return time.Time{}, err
	}
	switch {
	case hasExp && now.Sub(exp) > tolerance:
		return time.Time{}, fmt.Errorf("%w: JWT expired", ErrStaleTimestamp)
	case hasNbf && nbf.Sub(now) > tolerance:
		return time.Time{}, fmt.Errorf("%w: JWT not valid yet", ErrStaleTimestamp)
	case hasIat && iat.Sub(now) > tolerance:
		return time.Time{}, fmt.Errorf("%w: JWT issued in the future", ErrStaleTimestamp)
	case hasIat && !hasExp && now.Sub(iat) > tolerance:
		// Without exp, only iat bounds the token's age (Vonage).
		return time.Time{}, fmt.Errorf("%w: JWT issued longer ago than the %s tolerance", ErrStaleTimestamp, tolerance)
	}
	switch f.timeClaim {
	case "":
		return time.Time{}, nil
	case "iat":
		if hasIat {
			return iat, nil
		}
	case "nbf":
		if hasNbf {
			return nbf, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: no JWT %s claim", ErrMissingSignature, f.timeClaim)
}

// readJWT takes the token out of the scheme's header.
func (f jwtFamily) readJWT(s *Scheme, h http.Header) (string, error) {
	v, err := readHeader(h, s.sigHeader)
	if err != nil || !f.bearer {
		return v, err
	}
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", fmt.Errorf("%w: %s is not a Bearer token", ErrMalformedSignature, s.sigHeader)
	}
	return tok, nil
}

func (f jwtFamily) verify(s *Scheme, r Request, secrets []Secret, now time.Time, tolerance time.Duration) (Result, error) {
	tok, err := f.readJWT(s, r.Header)
	if err != nil {
		return Result{}, err
	}
	t, err := parseJWT(tok)
	if err != nil {
		return Result{}, err
	}
	idx, err := t.match(secrets)
	if err != nil {
		return Result{}, err
	}
	// The claims are authentic from here on.
	var res Result
	if res.Timestamp, err = f.checkTimes(t, now, tolerance); err != nil {
		return Result{}, err
	}
	if f.issuer != "" {
		if iss, _, err := t.str("iss"); err != nil || iss != f.issuer {
			return Result{}, fmt.Errorf("%w: JWT issuer is not %s", ErrInvalidSignature, f.issuer)
		}
	}
	if err := f.checkBody(t, r.Body); err != nil {
		return Result{}, err
	}
	if f.urlClaim != "" {
		got, _, err := t.str(f.urlClaim)
		if err != nil {
			return Result{}, err
		}
		want := r.URL
		if f.urlHashed {
			sum := sha256.Sum256([]byte(r.URL))
			want, got = hex.EncodeToString(sum[:]), strings.ToLower(got)
		}
		if !hmac.Equal([]byte(got), []byte(want)) {
			return Result{}, fmt.Errorf("%w: JWT %s does not match the request URL", ErrInvalidSignature, f.urlClaim)
		}
	}
	if res.ID, _, err = t.str("jti"); err != nil {
		return Result{}, err
	}
	return s.result(res, idx, t.sig), nil
}

// checkBody compares the body's SHA-256 with the body claim.
func (f jwtFamily) checkBody(t jwtToken, body []byte) error {
	claim, present, err := t.str(f.bodyClaim)
	if err != nil {
		return err
	}
	if !present {
		if f.bodyOptional && len(body) == 0 {
			return nil
		}
		return fmt.Errorf("%w: JWT has no %s claim", ErrInvalidSignature, f.bodyClaim)
	}
	var got []byte
	if f.bodyBase64 {
		got, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(claim, "="))
	} else {
		got, err = hex.DecodeString(claim)
	}
	sum := sha256.Sum256(body)
	if err != nil || !hmac.Equal(got, sum[:]) {
		return fmt.Errorf("%w: body does not match the JWT %s claim", ErrInvalidSignature, f.bodyClaim)
	}
	return nil
}

// sign issues a token with the first secret: iat and nbf at m.Timestamp
// (or no time claims for a family without them), exp jwtLifetime later,
// jti = m.ID.
func (f jwtFamily) sign(s *Scheme, m Message, secrets []Secret) (http.Header, error) {
	claims := map[string]any{}
	if f.issuer != "" {
		claims["iss"] = f.issuer
	}
	sum := sha256.Sum256(m.Body)
	switch {
	case f.bodyOptional && len(m.Body) == 0:
	case f.bodyBase64:
		claims[f.bodyClaim] = base64.URLEncoding.EncodeToString(sum[:])
	default:
		claims[f.bodyClaim] = hex.EncodeToString(sum[:])
	}
	if f.urlClaim != "" {
		claims[f.urlClaim] = m.URL
		if f.urlHashed {
			u := sha256.Sum256([]byte(m.URL))
			claims[f.urlClaim] = hex.EncodeToString(u[:])
		}
	}
	if f.timeClaim != "" {
		if m.Timestamp.IsZero() {
			return nil, errors.New("message has no timestamp")
		}
		iat := m.Timestamp.Unix()
		claims["iat"], claims["nbf"] = iat, iat
		claims["exp"] = iat + int64(jwtLifetime/time.Second)
	}
	if m.ID != "" {
		claims["jti"] = m.ID
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	input := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(payload)
	key := firstKey(secrets)
	if key == nil {
		return nil, ErrNoSecret
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	tok := input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	if f.bearer {
		tok = "Bearer " + tok
	}
	h := http.Header{}
	setHeader(h, s.sigHeader, tok)
	return h, nil
}

// firstKey returns the first usable secret's key, or nil.
func firstKey(secrets []Secret) []byte {
	for _, sec := range secrets {
		if len(sec.key) > 0 {
			return sec.key
		}
	}
	return nil
}
