package signature

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Family F beyond Ed25519 (which the data path covers, as for discord and
// telnyx): ECDSA P-256 with SHA-256, as SendGrid's Event Webhook signs.

// ecdsaFamily verifies an ASN.1 DER ECDSA signature, base64 in the
// signature header, over the scheme's template rendered with its timestamp
// header. The secret is the base64 DER SubjectPublicKeyInfo the provider
// shows as its verification key.
type ecdsaFamily struct{}

// maxECDSASig bounds the DER signature of a P-256 key (2 integers of at
// most 33 bytes plus framing).
const maxECDSASig = 72

// parseKey accepts only a P-256 public key and keeps its DER bytes.
func (ecdsaFamily) parseKey(value string) ([]byte, error) {
	der, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, errors.New("public key is not valid base64")
	}
	if _, err := ecdsaPublicKey(der); err != nil {
		return nil, err
	}
	return der, nil
}

// ecdsaPublicKey parses DER SubjectPublicKeyInfo as a P-256 key.
func ecdsaPublicKey(der []byte) (*ecdsa.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("public key is not DER SubjectPublicKeyInfo")
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("public key is not an ECDSA P-256 key")
	}
	return k, nil
}

func (ecdsaFamily) verify(s *Scheme, r Request, secrets []Secret, now time.Time, tolerance time.Duration) (Result, error) {
	sigValue, err := readHeader(r.Header, s.sigHeader)
	if err != nil {
		return Result{}, err
	}
	c := content{method: r.Method, url: r.URL, body: r.Body}
	if c.ts, err = readHeader(r.Header, s.tsHeader); err != nil {
		return Result{}, err
	}
	if !encBase64.wellFormed(sigValue) {
		return Result{}, fmt.Errorf("%w: signature is not base64", ErrMalformedSignature)
	}
	var res Result
	if res.Timestamp, err = parseTimestamp(c.ts, s.unit); err != nil {
		return Result{}, err
	}
	if err = checkTolerance(res.Timestamp, now, tolerance); err != nil {
		return Result{}, err
	}
	sig, ok := encBase64.decode(sigValue)
	if !ok || len(sig) > maxECDSASig {
		return Result{}, fmt.Errorf("%w: not a P-256 DER signature", ErrInvalidSignature)
	}
	hash := sha256.New()
	s.content.write(hash, c)
	digest := hash.Sum(nil)
	for i, sec := range secrets {
		if len(sec.key) == 0 {
			continue
		}
		pub, err := ecdsaPublicKey(sec.key)
		if err != nil || !ecdsa.VerifyASN1(pub, digest, sig) {
			continue
		}
		// ECDSA signatures are malleable: (r, n-s) verifies too, so the
		// signature cannot key dedupe. The signed message can.
		res.Secret = i
		res.DedupeKey = "body:" + hex.EncodeToString(digest)
		return res, nil
	}
	return Result{}, fmt.Errorf("%w: no public key matches", ErrInvalidSignature)
}

func (ecdsaFamily) sign(s *Scheme, _ Message, _ []Secret) (http.Header, error) {
	return nil, fmt.Errorf("%w: %s verifies with a public key", ErrCannotSign, s.Name)
}

func (ecdsaFamily) canSign() bool { return false }
