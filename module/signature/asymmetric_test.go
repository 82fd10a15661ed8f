package signature

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
)

// TestOracleSendGrid: sendgrid-go's eventwebhook verifier is the oracle.
// It accepts the published vector and every signature made here, and
// Verify must agree with it.
func TestOracleSendGrid(t *testing.T) {
	s := mustLookup(t, "sendgrid")
	v := loadVectors(t)["sendgrid"]
	pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(v.Secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, ts := v.Headers["X-Twilio-Email-Event-Webhook-Signature"], v.Headers["X-Twilio-Email-Event-Webhook-Timestamp"]
	if ok, err := eventwebhook.VerifySignature(pub, []byte(v.Body), sig, ts); !ok || err != nil {
		t.Fatalf("sendgrid-go rejects the vector: %v", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	secret := mustSecret(t, s, base64.StdEncoding.EncodeToString(der))
	now := time.Now()
	body := []byte(`[{"email":"a@example.com","event":"delivered","sg_event_id":"ZGVsaXZlcmVk","timestamp":1700000000}]` + "\r\n")
	tsNow := strconv.FormatInt(now.Unix(), 10)
	digest := sha256.Sum256(append([]byte(tsNow), body...))
	raw, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(raw)
	if ok, err := eventwebhook.VerifySignature(&key.PublicKey, body, b64, tsNow); !ok || err != nil {
		t.Fatalf("sendgrid-go rejects the in-test signature: %v", err)
	}
	req := func(sig string, b []byte) Request {
		h := http.Header{}
		h.Set("X-Twilio-Email-Event-Webhook-Signature", sig)
		h.Set("X-Twilio-Email-Event-Webhook-Timestamp", tsNow)
		return Request{Header: h, Body: b}
	}
	res, err := s.Verify(req(b64, body), []Secret{secret}, now, 5*time.Minute)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}

	// (r, n-s) is as valid as (r, s): the dedupe key must not change.
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(raw, &rs); err != nil {
		t.Fatal(err)
	}
	rs.S.Sub(elliptic.P256().Params().N, rs.S)
	twin, _ := asn1.Marshal(rs)
	res2, err := s.Verify(req(base64.StdEncoding.EncodeToString(twin), body), []Secret{secret}, now, 5*time.Minute)
	if err != nil || res2.DedupeKey != res.DedupeKey {
		t.Errorf("malleated signature: err %v, dedupe key %q vs %q", err, res2.DedupeKey, res.DedupeKey)
	}

	if _, err := s.Verify(req(b64, append(body, ' ')), []Secret{secret}, now, 5*time.Minute); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("changed body: %v", err)
	}
	if _, err := s.Verify(req("not base64!", body), []Secret{secret}, now, 5*time.Minute); !errors.Is(err, ErrMalformedSignature) {
		t.Errorf("bad signature syntax: %v", err)
	}
	if _, err := s.Sign(Message{Body: body, Timestamp: now}, []Secret{secret}); !errors.Is(err, ErrCannotSign) {
		t.Errorf("Sign: %v, want ErrCannotSign", err)
	}
}

func TestSendGridKeys(t *testing.T) {
	s := mustLookup(t, "sendgrid")
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	derX, _ := x509.MarshalPKIXPublicKey(x.PublicKey())
	for name, v := range map[string]string{
		"P-384":      base64.StdEncoding.EncodeToString(der384),
		"X25519":     base64.StdEncoding.EncodeToString(derX),
		"not base64": "MFkw!!",
		"not DER":    base64.StdEncoding.EncodeToString([]byte("a public key, surely")),
	} {
		if _, err := s.ParseSecret(v); err == nil {
			t.Errorf("%s: ParseSecret accepted it", name)
		}
	}
}
