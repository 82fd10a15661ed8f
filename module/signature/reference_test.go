package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// A reference implementation of the HMAC presets, written from the
// providers' docs without any of the package's code, for the timestamp
// tables and the oracle fuzz target.

// refMAC is HMAC-SHA256 over the preset's signed content.
func refMAC(scheme, secret, id, ts string, body []byte) []byte {
	key := []byte(secret)
	var msg string
	switch scheme {
	case "standard", "svix":
		key, _ = base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		msg = id + "." + ts + "." + string(body)
	case "stripe", "foil", "enforgate":
		msg = ts + "." + string(body)
	case "paddle":
		msg = ts + ":" + string(body)
	case "slack":
		msg = "v0:" + ts + ":" + string(body)
	default: // github, gately, shopify
		msg = string(body)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// refEncoded is the signature as the provider writes it, without prefix.
func refEncoded(scheme string, mac []byte) string {
	switch scheme {
	case "standard", "svix", "shopify":
		return base64.StdEncoding.EncodeToString(mac)
	default:
		return hex.EncodeToString(mac)
	}
}

// refHeader is the provider's signature header value for one secret.
func refHeader(scheme, secret, id, ts string, body []byte) string {
	sig := refEncoded(scheme, refMAC(scheme, secret, id, ts, body))
	switch scheme {
	case "standard", "svix":
		return "v1," + sig
	case "stripe":
		return "t=" + ts + ",v1=" + sig
	case "paddle":
		return "ts=" + ts + ";h1=" + sig
	case "github", "gately":
		return "sha256=" + sig
	case "slack":
		return "v0=" + sig
	default:
		return sig
	}
}

// hmacRef is refHeader for the timestamp tables (no ID).
func hmacRef(t *testing.T, scheme, secret, ts string, body []byte) string {
	t.Helper()
	return refHeader(scheme, secret, "", ts, body)
}
