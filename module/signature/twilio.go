package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Twilio signs neither a template nor the raw body. Its content is the full
// URL Twilio requested, followed, for a form-encoded body, by every POST
// parameter as name+value sorted by name (twilio-go RequestValidator,
// twilio.com/docs/usage/security). A JSON body is instead bound by a
// bodySHA256=<hex sha256 of body> query parameter inside the signed URL.

// twilioFamily is Twilio's content as the Scheme's custom hook.
var twilioFamily = urlFormFamily{verifyMessages: twilioVerifyMessages, message: twilioMessage}

// twilioBodyHashParam is the query parameter carrying a JSON body's hash.
const twilioBodyHashParam = "bodySHA256"

// twilioMessage is the string Twilio signs for a request to rawURL.
func twilioMessage(rawURL string, body []byte) ([]byte, error) {
	params, err := twilioParams(rawURL, body)
	if err != nil {
		return nil, err
	}
	return []byte(rawURL + params), nil
}

// twilioParams is what follows the URL in the signed string: nothing when
// the URL carries bodySHA256, else the sorted form parameters (sortedForm).
// Sorting every value, as twilio-node and twilio-python do, rather than
// keeping only the first as twilio-go does, is stricter; a body that is not
// valid form encoding has no signed string, as in twilio-go.
func twilioParams(rawURL string, body []byte) (string, error) {
	if twilioBodyHash(rawURL) != "" {
		return "", nil
	}
	params, err := sortedForm(body)
	if err != nil {
		return "", errors.New("body is neither form-encoded nor bound by " + twilioBodyHashParam)
	}
	return params, nil
}

// twilioVerifyMessages returns the strings whose signature Verify accepts
// for a request to rawURL: the URL as given and, as Twilio's SDKs do, the
// same URL with its port removed, or with the scheme's default port added
// when it has none. For a JSON body it first checks bodySHA256 against the
// body.
func twilioVerifyMessages(rawURL string, body []byte) ([][]byte, error) {
	if want := twilioBodyHash(rawURL); want != "" {
		sum := sha256.Sum256(body)
		if !hmac.Equal([]byte(hex.EncodeToString(sum[:])), []byte(want)) {
			return nil, fmt.Errorf("%w: body does not match %s", ErrInvalidSignature, twilioBodyHashParam)
		}
	}
	params, err := twilioParams(rawURL, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	msgs := [][]byte{[]byte(rawURL + params)}
	if alt, ok := twilioPortVariant(rawURL); ok {
		msgs = append(msgs, []byte(alt+params))
	}
	return msgs, nil
}

// twilioBodyHash returns the URL's bodySHA256 parameter, or "".
func twilioBodyHash(rawURL string) string {
	_, query, ok := strings.Cut(rawURL, "?")
	if !ok {
		return ""
	}
	query, _, _ = strings.Cut(query, "#")
	q, _ := url.ParseQuery(query) // a bad pair is dropped
	return q.Get(twilioBodyHashParam)
}

// twilioPortVariant returns rawURL with its port removed, or with the
// default port (443 for https, 80 otherwise) added when it has none. It
// edits the authority in place, leaving the rest of the URL byte for byte.
func twilioPortVariant(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", false
	}
	i := strings.Index(rawURL, "://")
	if i < 0 {
		return "", false
	}
	start := i + len("://")
	end := len(rawURL)
	if j := strings.IndexAny(rawURL[start:], "/?#"); j >= 0 {
		end = start + j
	}
	hostStart := start + strings.LastIndex(rawURL[start:end], "@") + 1
	if u.Port() == "" {
		port := "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
		return rawURL[:end] + ":" + port + rawURL[end:], true
	}
	colon := strings.LastIndex(rawURL[hostStart:end], ":")
	if colon < 0 {
		return "", false
	}
	return rawURL[:hostStart+colon] + rawURL[end:], true
}
