package signature

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

func TestMandrill(t *testing.T) {
	s := mustLookup(t, "mandrill")
	secrets := []Secret{mustSecret(t, s, "mandrill-key-0123")}
	const u = "https://hooks.example.com/mandrill?x=1"
	body := []byte(url.Values{"mandrill_events": {`[{"event":"send","_id":"abc"}]`}}.Encode())
	h, err := s.Sign(Message{Body: body, URL: u}, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(Request{Header: h, Body: body, URL: u}, secrets, time.Now(), time.Minute); err != nil {
		t.Fatalf("Verify(Sign): %v", err)
	}
	for name, r := range map[string]Request{
		"trailing slash":      {Header: h, Body: body, URL: u + "/"},
		"appended parameter":  {Header: h, Body: append(append([]byte(nil), body...), "&mandrill_events=x"...), URL: u},
		"not form encoding":   {Header: h, Body: []byte("a=%zz"), URL: u},
		"parameter prepended": {Header: h, Body: []byte("z=1&" + string(body)), URL: u},
	} {
		if _, err := s.Verify(r, secrets, time.Now(), time.Minute); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: err = %v, want ErrInvalidSignature", name, err)
		}
	}
}
