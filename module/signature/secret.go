package signature

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// MinSecretBytes is the shortest decoded HMAC key or shared token that
// ParseSecret accepts.
const MinSecretBytes = 8

// whsecPrefix is stripped from base64 secrets before decoding.
const whsecPrefix = "whsec_"

// keyEncoding is how a configured secret string becomes key bytes.
type keyEncoding uint8

const (
	// keyRaw uses the secret string's bytes as they are.
	keyRaw keyEncoding = iota
	// keyBase64 strips a "whsec_" prefix and decodes standard base64
	// (padding optional).
	keyBase64
	// keyHex decodes hex in either case.
	keyHex
	// keyBase64V1 is keyBase64 after an optional "v1," (Supabase shows its
	// secrets as "v1,whsec_<base64>").
	keyBase64V1
	// keyInngest strips a "signkey-<env>-" prefix and uses the rest's
	// bytes as they are (inngestgo).
	keyInngest
)

// String describes the key decoding for the presets table.
func (k keyEncoding) String() string {
	switch k {
	case keyBase64:
		return "base64 after `whsec_`"
	case keyBase64V1:
		return "base64 after `v1,whsec_`"
	case keyHex:
		return "hex"
	case keyInngest:
		return "raw after `signkey-<env>-`"
	default:
		return "raw"
	}
}

// inngestKeyPrefix matches the environment prefix of an Inngest signing
// key.
var inngestKeyPrefix = regexp.MustCompile(`^signkey-\w+-`)

// Secret is one decoded key: an HMAC key, a shared token or an Ed25519
// public key, depending on the scheme that parsed it. Its zero value is not
// usable; Verify and Sign skip it. Get one from Scheme.ParseSecret.
type Secret struct {
	key  []byte
	fp   string
	macs *macPools // HMAC states keyed with key, per algorithm; nil for a hand-built Secret
}

// macPools holds, per HMAC algorithm (algSHA256, algSHA1, algSHA512), states
// keyed with one secret, so that verification resets one instead of keying
// a new HMAC for every request.
type macPools [algSHA512 + 1]sync.Pool

// pooledMAC is one keyed HMAC state and the scratch buffer its template
// text is gathered in.
type pooledMAC struct {
	h   hash.Hash
	buf []byte
}

// Fingerprint is a short stable identifier of the secret: the first 8 hex
// characters of the SHA-256 of the configured secret string. It is safe to
// log and to expose as a placeholder.
func (s Secret) Fingerprint() string { return s.fp }

// ParseSecret decodes a configured secret string the way the scheme needs
// it: raw bytes, base64 after an optional "whsec_" prefix, hex, or (discord)
// a hex Ed25519 public key of exactly 32 bytes. It refuses an empty or
// whitespace-only value, a value with leading or trailing whitespace (a
// common trace of a secret read from a file), one that does not decode, and
// one shorter than MinSecretBytes once decoded. Its errors never contain the
// secret.
func (s *Scheme) ParseSecret(value string) (Secret, error) {
	if strings.TrimSpace(value) == "" {
		return Secret{}, errors.New("secret is empty")
	}
	if strings.TrimFunc(value, unicode.IsSpace) != value {
		return Secret{}, errors.New("secret has leading or trailing whitespace")
	}
	if kp, ok := s.custom.(keyParser); ok {
		key, err := kp.parseKey(value)
		if err != nil {
			return Secret{}, err
		}
		return newSecret(key, value), nil
	}
	var (
		key []byte
		err error
	)
	switch s.keyEnc {
	case keyBase64, keyBase64V1:
		b64 := value
		if s.keyEnc == keyBase64V1 {
			b64 = strings.TrimPrefix(b64, "v1,")
		}
		b64 = strings.TrimPrefix(b64, whsecPrefix)
		if strings.HasSuffix(b64, "=") {
			key, err = base64.StdEncoding.DecodeString(b64)
		} else {
			key, err = base64.RawStdEncoding.DecodeString(b64)
		}
		if err != nil {
			return Secret{}, errors.New("secret is not valid base64")
		}
	case keyHex:
		key, err = hex.DecodeString(value)
		if err != nil {
			return Secret{}, errors.New("secret is not valid hex")
		}
	case keyInngest:
		key = []byte(inngestKeyPrefix.ReplaceAllString(value, ""))
	default:
		key = []byte(value)
	}
	switch {
	case s.alg == algEd25519 && len(key) != ed25519.PublicKeySize:
		return Secret{}, fmt.Errorf("public key is %d bytes, want %d", len(key), ed25519.PublicKeySize)
	case len(key) < MinSecretBytes:
		return Secret{}, fmt.Errorf("secret is %d bytes once decoded, want at least %d", len(key), MinSecretBytes)
	}
	return newSecret(key, value), nil
}

// newSecret pairs a decoded key with the fingerprint of its configured
// string.
func newSecret(key []byte, value string) Secret {
	sum := sha256.Sum256([]byte(value))
	return Secret{key: key, fp: hex.EncodeToString(sum[:4]), macs: new(macPools)}
}
