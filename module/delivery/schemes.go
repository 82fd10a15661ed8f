package delivery

import (
	"github.com/hookguard/hookguard/module/signature"
)

// SigningSchemes are the schemes an endpoint can sign with: the presets
// that can sign, and "hmac".
var SigningSchemes = []string{"standard", "svix", "stripe", "foil", "github", "gately", "slack", "shopify", "paddle", "enforgate", "hmac"}

// OutboundHMAC is what the "hmac" signing scheme sends: HMAC-SHA256 of
// "{id}.{timestamp}.{body}" in `X-Webhook-Signature: sha256=<hex>`, with
// `X-Webhook-Id` and `X-Webhook-Timestamp` (Unix seconds), keyed with the
// secret's raw bytes. A receiver behind webhook_verify uses the generic
// hmac scheme with these settings.
var OutboundHMAC = signature.HMACConfig{
	SignatureHeader: "X-Webhook-Signature",
	TimestampHeader: "X-Webhook-Timestamp",
	IDHeader:        "X-Webhook-Id",
	SignedPayload:   "{id}.{timestamp}.{body}",
	Algorithm:       "sha256",
	Encoding:        "hex",
	Prefix:          "sha256=",
	SecretEncoding:  "raw",
}

// signingSchemes holds each of SigningSchemes, built once: a Scheme is
// read-only and safe for concurrent use, and each attempt looks one up.
var signingSchemes = func() map[string]*signature.Scheme {
	m := make(map[string]*signature.Scheme, len(SigningSchemes))
	for _, name := range SigningSchemes {
		s, ok := signature.Lookup(name)
		if name == "hmac" {
			var err error
			s, err = signature.NewHMAC(OutboundHMAC)
			ok = err == nil
		}
		if !ok {
			panic("delivery: signing scheme " + name + " does not build")
		}
		m[name] = s
	}
	return m
}()

// SigningScheme returns the scheme an endpoint signs with, or false if
// name is not one of SigningSchemes.
func SigningScheme(name string) (*signature.Scheme, bool) {
	s, ok := signingSchemes[name]
	return s, ok
}
