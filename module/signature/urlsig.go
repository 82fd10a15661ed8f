package signature

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Family E: the URL is part of the signed content. Square ("{url}{body}")
// and Trello ("{body}{url}") are plain templates; Twilio and Mandrill sign
// the URL followed by the sorted form parameters, which is code.

// sortedForm renders a form-encoded body as every parameter's name+value,
// sorted by name and then value. Sorting every value of a repeated name
// means a repeated parameter cannot be appended to a signed body unnoticed.
// A body that is not valid form encoding (bad escape, semicolon) has no
// rendering.
func sortedForm(body []byte) (string, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", errors.New("body is not form-encoded")
	}
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		vals := form[name]
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(name)
			b.WriteString(v)
		}
	}
	return b.String(), nil
}

// urlFormFamily verifies a signature over content built from the URL and
// the form body by code: one message to sign, and the messages a verifier
// accepts (Twilio accepts a URL with and without its port).
type urlFormFamily struct {
	verifyMessages func(rawURL string, body []byte) ([][]byte, error)
	message        func(rawURL string, body []byte) ([]byte, error)
}

func (f urlFormFamily) verify(s *Scheme, r Request, secrets []Secret, _ time.Time, _ time.Duration) (Result, error) {
	sigValue, err := readHeader(r.Header, s.sigHeader)
	if err != nil {
		return Result{}, err
	}
	p, err := s.layout.parse(sigValue, s.enc)
	if err != nil {
		return Result{}, err
	}
	cands, err := s.candidates(p.sigs)
	if err != nil {
		return Result{}, err
	}
	msgs, err := f.verifyMessages(r.URL, r.Body)
	if err != nil {
		return Result{}, err
	}
	idx, matched, err := s.matchMessages(msgs, cands, secrets)
	if err != nil {
		return Result{}, err
	}
	return s.result(Result{}, idx, matched), nil
}

// sign signs the message built from the URL and body with the first
// usable secret.
func (f urlFormFamily) sign(s *Scheme, m Message, secrets []Secret) (http.Header, error) {
	msg, err := f.message(m.URL, m.Body)
	if err != nil {
		return nil, err
	}
	key := firstKey(secrets)
	if key == nil {
		return nil, ErrNoSecret
	}
	h := http.Header{}
	h.Set(s.sigHeader, s.enc.encode(s.mac(key, nil, msg)))
	return h, nil
}

// mandrillFamily is Mandrill's (Mailchimp Transactional) content: the
// webhook URL exactly as configured, followed by the sorted POST
// parameters (in practice the single mandrill_events field).
var mandrillFamily = urlFormFamily{
	message: mandrillMessage,
	verifyMessages: func(rawURL string, body []byte) ([][]byte, error) {
		msg, err := mandrillMessage(rawURL, body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSignature, err)
		}
		return [][]byte{msg}, nil
	},
}

// mandrillMessage is the string Mandrill signs for a request to rawURL.
func mandrillMessage(rawURL string, body []byte) ([]byte, error) {
	params, err := sortedForm(body)
	if err != nil {
		return nil, err
	}
	return []byte(rawURL + params), nil
}
