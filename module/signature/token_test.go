package signature

import (
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestBasicAuth(t *testing.T) {
	s := mustLookup(t, "chargebee")
	if _, err := s.ParseSecret("no-colon-here"); err == nil {
		t.Error(`ParseSecret accepted a secret without "user:password"`)
	}
	secrets := []Secret{mustSecret(t, s, "old-user:old-pass"), mustSecret(t, s, "hooks:s3cret-pass")}
	body := []byte(`{"id":"ev_1"}`)
	for _, c := range []struct {
		name, auth string
		want       error
	}{
		{"second pair", "Basic " + base64.StdEncoding.EncodeToString([]byte("hooks:s3cret-pass")), nil},
		{"lowercase scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("hooks:s3cret-pass")), nil},
		{"wrong password", "Basic " + base64.StdEncoding.EncodeToString([]byte("hooks:s3cret-pasS")), ErrInvalidSignature},
		{"bearer", "Bearer hooks:s3cret-pass", ErrMalformedSignature},
		{"not base64", "Basic hooks:s3cret-pass", ErrMalformedSignature},
		{"missing", "", ErrMissingSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.auth != "" {
				h.Set("Authorization", c.auth)
			}
			res, err := s.Verify(Request{Header: h, Body: body}, secrets, time.Now(), time.Minute)
			if !errors.Is(err, c.want) || c.want == nil && (res.Secret != 1 || res.DedupeKey[:5] != "body:") {
				t.Errorf("%+v err = %v, want %v", res, err, c.want)
			}
		})
	}
	h, err := s.Sign(Message{Body: body}, secrets[1:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(Request{Header: h, Body: body}, secrets, time.Now(), time.Minute); err != nil {
		t.Errorf("Verify(Sign): %v", err)
	}
}

func TestQueryAndBodyTokens(t *testing.T) {
	mc := mustLookup(t, "mailchimp")
	secrets := []Secret{mustSecret(t, mc, "mc-secret-0123")}
	for url, want := range map[string]error{
		"https://h.example/mc?secret=mc-secret-0123":                       nil,
		"https://h.example/mc?x=1&secret=mc-secret-0123":                   nil,
		"https://h.example/mc?secret=mc-secret-0124":                       ErrInvalidSignature,
		"https://h.example/mc":                                             ErrMissingSignature,
		"https://h.example/mc?secret=mc-secret-0123&secret=mc-secret-0123": ErrMalformedSignature,
	} {
		if _, err := mc.Verify(Request{URL: url, Body: []byte("type=subscribe")}, secrets, time.Now(), time.Minute); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", url, err, want)
		}
	}
	fg := mustLookup(t, "figma")
	secrets = []Secret{mustSecret(t, fg, "figma-pass-0123")}
	for body, want := range map[string]error{
		`{"passcode":"figma-pass-0123","event_type":"PING"}`: nil,
		`{"passcode":"figma-pass-0124","event_type":"PING"}`: ErrInvalidSignature,
		`{"event_type":"PING"}`:                              ErrMissingSignature,
		`passcode=figma-pass-0123`:                           ErrMissingSignature,
	} {
		if _, err := fg.Verify(Request{Body: []byte(body)}, secrets, time.Now(), time.Minute); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", body, err, want)
		}
	}
}
