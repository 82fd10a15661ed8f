package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
)

// Keys of the asymmetric routes: the tests sign with the private halves,
// the routes verify with the public ones.
var (
	sendgridKey = mustECDSAKey()
	telnyxKey   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x24}, ed25519.SeedSize)) // the vector's seed
)

func mustECDSAKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// The secrets of the family E-H routes of providers.Caddyfile.
func init() {
	presetSecrets["sendgrid"] = func(testing.TB) string {
		der, _ := x509.MarshalPKIXPublicKey(&sendgridKey.PublicKey)
		return base64.StdEncoding.EncodeToString(der)
	}
	presetSecrets["telnyx"] = func(testing.TB) string {
		return base64.StdEncoding.EncodeToString(telnyxKey.Public().(ed25519.PublicKey))
	}
	for _, name := range []string{"qstash", "qstash_next", "messagebird", "mandrill", "square"} {
		presetSecrets[name] = plainSecret(name)
	}
	presetSecrets["chargebee"] = func(t testing.TB) string { return "cb-hooks:" + randomHex(t, 12) }
}

// TestBespokeProvidersEndToEnd sends families E to H through the built
// binary: SendGrid signed here and accepted by sendgrid-go's verifier
// first, QStash and MessageBird signed by golang-jwt/jwt, and the others by in-test signers
// anchored to their vectors. Hookguard's own signer is never used.
func TestBespokeProvidersEndToEnd(t *testing.T) {
	s := startSite(t)

	t.Run("sendgrid", func(t *testing.T) {
		v := loadVector(t, "sendgrid")
		pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(v.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := eventwebhook.VerifySignature(pub, []byte(v.Body), v.Headers["X-Twilio-Email-Event-Webhook-Signature"],
			v.Headers["X-Twilio-Email-Event-Webhook-Timestamp"]); !ok || err != nil {
			t.Fatalf("sendgrid-go rejects the vector: %v", err)
		}
		body := []byte(`[{"email":"a@example.com","event":"delivered","sg_event_id":"` + randomHex(t, 10) + `","note":"caf\u00e9 ☕"}]` + "\r\n")
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		h := sendgridHeader(t, ts, body)
		if ok, err := eventwebhook.VerifySignature(&sendgridKey.PublicKey, body, h.Get("X-Twilio-Email-Event-Webhook-Signature"), ts); !ok || err != nil {
			t.Fatalf("sendgrid-go rejects the in-test signature: %v", err)
		}
		h.Set("Content-Type", "application/json")
		first := s.checkDelivery(t, delivery{path: "/sendgrid", header: h, body: body})

		// ECDSA signs with fresh randomness: another signature of the same
		// timestamp and body is the same delivery, not a new one.
		again := sendgridHeader(t, ts, body)
		again.Set("Content-Type", "application/json")
		s.checkDuplicate(t, "/sendgrid", s.base+"/sendgrid", again, body, first)
	})

	t.Run("telnyx", func(t *testing.T) {
		anchor(t, "telnyx", func(v vector) http.Header {
			ts, _ := strconv.ParseInt(v.Headers["telnyx-timestamp"], 10, 64)
			return telnyxHeader(ts, []byte(v.Body))
		})
		body := []byte(`{"data":{"event_type":"message.received","id":"` + randomHex(t, 16) + `","payload":{"text":"caf\u00e9 ☕"}}}`)
		h := telnyxHeader(time.Now().Unix(), body)
		h.Set("Content-Type", "application/json")
		s.checkDelivery(t, delivery{path: "/telnyx", header: h, body: body})
	})

	t.Run("qstash", func(t *testing.T) {
		// Signed with the next key, as QStash does after a key roll.
		body := []byte(`{"job":"` + randomHex(t, 8) + `","note":"caf\u00e9 ☕"}`)
		target := s.base + "/qstash"
		sum := sha256.Sum256(body)
		now := time.Now()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "Upstash", "sub": target, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"jti": "jwt_" + randomHex(t, 12), "body": base64.URLEncoding.EncodeToString(sum[:]),
		}).SignedString([]byte(s.secrets["qstash_next"]))
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("Upstash-Signature", tok)
		h.Set("Upstash-Message-Id", "msg_"+randomHex(t, 8))
		h.Set("Content-Type", "application/json")
		first := s.checkDelivery(t, delivery{path: "/qstash", header: h, body: body})

		// Upstash-Message-Id is unsigned: a fresh one is still a replay.
		h.Set("Upstash-Message-Id", "msg_"+randomHex(t, 8))
		s.checkDuplicate(t, "/qstash", target, h, body, first)
	})

	t.Run("messagebird", func(t *testing.T) {
		// url_hash binds the full URL, query included.
		body := []byte(`{"id":"` + randomHex(t, 16) + `","status":"delivered","note":"caf\u00e9 ☕"}`)
		target := s.base + "/messagebird?reference=order-" + randomHex(t, 4)
		urlSum, bodySum := sha256.Sum256([]byte(target)), sha256.Sum256(body)
		now := time.Now()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "MessageBird", "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": randomHex(t, 16),
			"url_hash": hex.EncodeToString(urlSum[:]), "payload_hash": hex.EncodeToString(bodySum[:]),
		}).SignedString([]byte(s.secrets["messagebird"]))
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("MessageBird-Signature-JWT", tok)
		h.Set("Content-Type", "application/json")
		s.checkDelivery(t, delivery{path: "/messagebird", url: target, header: h, body: body})
		if a := send(t, s.base+"/messagebird?reference=other", h, body); a.Status != 401 || errorCode(t, a) != "invalid_signature" {
			t.Fatalf("another query string: got %d %s", a.Status, a.Body)
		}
	})

	t.Run("mandrill", func(t *testing.T) {
		anchor(t, "mandrill", func(v vector) http.Header {
			form, _ := url.ParseQuery(v.Body)
			return mandrillHeader(v.Secret, v.URL, form)
		})
		form := url.Values{"mandrill_events": {`[{"event":"send","_id":"` + randomHex(t, 16) + `","msg":{"subject":"caf\u00e9 ☕"}}]`}}
		target := s.base + "/mandrill"
		h := mandrillHeader(s.secrets["mandrill"], target, form)
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		s.checkDelivery(t, delivery{path: "/mandrill", header: h, body: []byte(form.Encode())})
	})

	t.Run("square", func(t *testing.T) {
		anchor(t, "square", func(v vector) http.Header { return squareHeader(v.Secret, v.URL, []byte(v.Body)) })
		body := []byte(`{"merchant_id":"6SSW7HV8K2ST5","type":"payment.created","event_id":"` + randomHex(t, 16) + `","data":{"note":"caf\u00e9 ☕"}}`)
		h := squareHeader(s.secrets["square"], s.base+"/square", body)
		h.Set("Content-Type", "application/json")
		s.checkDelivery(t, delivery{path: "/square", header: h, body: body})

		// The notification URL is signed: the same request addressed to
		// another path does not verify.
		other := squareHeader(s.secrets["square"], s.base+"/elsewhere", body)
		if a := send(t, s.base+"/square", other, body); a.Status != 401 || errorCode(t, a) != "invalid_signature" {
			t.Fatalf("signed for another URL: got %d %s", a.Status, a.Body)
		}
	})

	t.Run("chargebee", func(t *testing.T) {
		anchor(t, "chargebee", func(v vector) http.Header { return basicHeader(v.Secret) })
		body := []byte(`{"id":"ev_` + randomHex(t, 8) + `","event_type":"subscription_created","content":{"note":"caf\u00e9 ☕"}}`)
		h := basicHeader(s.secrets["chargebee"])
		h.Set("Content-Type", "application/json")
		first := s.checkValid(t, "/chargebee", s.base+"/chargebee", h, body)
		before := s.up.count("/chargebee")
		if a := send(t, s.base+"/chargebee", basicHeader("cb-hooks:wrong-password"), body); a.Status != 401 || errorCode(t, a) != "invalid_signature" {
			t.Fatalf("wrong password: got %d %s", a.Status, a.Body)
		}
		if n := s.up.count("/chargebee") - before; n != 0 {
			t.Fatalf("wrong password was forwarded (%d)", n)
		}
		s.checkDuplicate(t, "/chargebee", s.base+"/chargebee", h, body, first)
	})
}

// sendgridHeader: X-Twilio-Email-Event-Webhook-Signature: base64 DER
// ECDSA P-256/SHA-256 of "{ts}{body}", with the timestamp header
// (twilio.com/docs/sendgrid, Event Webhook security features).
func sendgridHeader(t testing.TB, ts string, body []byte) http.Header {
	t.Helper()
	digest := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, sendgridKey, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("X-Twilio-Email-Event-Webhook-Timestamp", ts)
	h.Set("X-Twilio-Email-Event-Webhook-Signature", base64.StdEncoding.EncodeToString(sig))
	return h
}

// telnyxHeader: telnyx-signature-ed25519: base64 Ed25519 of "{ts}|{body}"
// with telnyx-timestamp (developers.telnyx.com, webhooks).
func telnyxHeader(ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set("telnyx-timestamp", string(unix(ts)))
	msg := append(append(unix(ts), '|'), body...)
	h.Set("telnyx-signature-ed25519", base64.StdEncoding.EncodeToString(ed25519.Sign(telnyxKey, msg)))
	return h
}

// mandrillHeader: X-Mandrill-Signature: base64 HMAC-SHA1 of the webhook URL
// followed by each POST field's name and value, sorted by name (Mailchimp
// Transactional, Authenticating webhook requests).
func mandrillHeader(key, target string, form url.Values) http.Header {
	names := make([]string, 0, len(form))
	for n := range form {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(target)
	for _, n := range names {
		b.WriteString(n + form.Get(n))
	}
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(b.String()))
	h := http.Header{}
	h.Set("X-Mandrill-Signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	return h
}

// squareHeader: x-square-hmacsha256-signature: base64 HMAC-SHA256 of the
// notification URL followed by the body (developer.squareup.com).
func squareHeader(key, target string, body []byte) http.Header {
	h := http.Header{}
	h.Set("x-square-hmacsha256-signature", base64.StdEncoding.EncodeToString(hmacSHA256(key, []byte(target), body)))
	return h
}

// basicHeader: Authorization: Basic base64(user:password).
func basicHeader(pair string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(pair)))
	return h
}
