package signature

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Family H beyond a static header (which the data path covers with
// algToken, as for gitlab): a secret that travels as HTTP basic auth, in
// the URL's query, or in a body field. Each is compared with the secrets
// in constant time by verifyToken. A token covers no content, so the
// dedupe key is a hash of the body, never an unsigned header.

// tokenSource says where a tokenFamily finds its token.
type tokenSource uint8

const (
	// tokenBasic is "Authorization: Basic base64(user:password)"; the
	// secret is "user:password".
	tokenBasic tokenSource = iota
	// tokenQuery is a query parameter of the URL.
	tokenQuery
	// tokenBody is a field of a JSON body.
	tokenBody
)

// tokenFamily verifies a shared token taken from a request.
type tokenFamily struct {
	from  tokenSource
	name  string   // tokenQuery: the parameter
	field []string // tokenBody: the JSON path
}

// parseKey keeps the secret's bytes; basic auth needs a "user:password"
// pair.
func (f tokenFamily) parseKey(value string) ([]byte, error) {
	if f.from == tokenBasic && !strings.Contains(value, ":") {
		return nil, errors.New(`secret must be "user:password"`)
	}
	if len(value) < MinSecretBytes {
		return nil, fmt.Errorf("secret is %d bytes, want at least %d", len(value), MinSecretBytes)
	}
	return []byte(value), nil
}

func (f tokenFamily) verify(s *Scheme, r Request, secrets []Secret, _ time.Time, _ time.Duration) (Result, error) {
	token, err := f.token(s, r)
	if err != nil {
		return Result{}, err
	}
	return s.verifyToken(token, r.Body, secrets)
}

// token extracts the token, or reports it missing or malformed.
func (f tokenFamily) token(s *Scheme, r Request) (string, error) {
	switch f.from {
	case tokenBasic:
		v, err := readHeader(r.Header, s.sigHeader)
		if err != nil {
			return "", err
		}
		scheme, b64, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Basic") {
			return "", fmt.Errorf("%w: %s is not Basic credentials", ErrMalformedSignature, s.sigHeader)
		}
		pair, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			return "", fmt.Errorf("%w: Basic credentials are not base64", ErrMalformedSignature)
		}
		return string(pair), nil
	case tokenQuery:
		u, err := url.Parse(r.URL)
		if err != nil {
			return "", fmt.Errorf("%w: bad request URL", ErrMalformedSignature)
		}
		vals := u.Query()[f.name]
		switch {
		case len(vals) == 0 || vals[0] == "":
			return "", fmt.Errorf("%w: no %s query parameter", ErrMissingSignature, f.name)
		case len(vals) > 1:
			return "", fmt.Errorf("%w: %s query parameter sent %d times", ErrMalformedSignature, f.name, len(vals))
		}
		return vals[0], nil
	default:
		v := jsonField(r.Body, f.field)
		if v == "" {
			return "", fmt.Errorf("%w: no %s field in the body", ErrMissingSignature, strings.Join(f.field, "."))
		}
		return v, nil
	}
}

// sign sets the token where the provider sends it: basic credentials, or
// for the query and body forms nothing, since the sender's URL or body
// carries it already.
func (f tokenFamily) sign(s *Scheme, _ Message, secrets []Secret) (http.Header, error) {
	key := firstKey(secrets)
	if key == nil {
		return nil, ErrNoSecret
	}
	h := http.Header{}
	if f.from == tokenBasic {
		h.Set(s.sigHeader, "Basic "+base64.StdEncoding.EncodeToString(key))
	}
	return h, nil
}

// canSign: only basic credentials travel in a header Sign can set.
func (f tokenFamily) canSign() bool { return f.from == tokenBasic }
