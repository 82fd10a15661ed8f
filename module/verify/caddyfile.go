package verify

import (
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/hookguard/hookguard/module/signature"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("webhook_verify", parseCaddyfile)
	// After the handlers that wrap the response (encode, intercept,
	// templates), so duplicates replay the upstream's own bytes, and
	// before every handler that answers (handle, respond, reverse_proxy…).
	httpcaddyfile.RegisterDirectiveOrder("webhook_verify", httpcaddyfile.After, "templates")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	v := new(Handler)
	err := v.UnmarshalCaddyfile(h.Dispenser)
	return v, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	webhook_verify [<scheme>] {
//		secret <value> [not_after <RFC3339>]
//		tolerance <duration>
//		dedupe <duration>|off
//		lease <duration>
//		max_body <size>
//		replay_max <size>
//		# scheme hmac only:
//		signature_header <name>
//		timestamp_header <name>
//		id_header <name>
//		id_field <json.path>
//		signed_payload "<template>"
//		algorithm sha1|sha256|sha512
//		encoding hex|base64
//		prefix <string>
//		secret_encoding raw|base64|hex
//	}
//
// Every error names the Caddyfile and line, so `caddy validate` points at it.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		h.Scheme = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	scheme := h.Scheme
	if scheme == "" {
		scheme = defaultScheme
	}
	// A preset is known now, so its errors point at this line; the
	// generic scheme is known once its block is read.
	var preset *signature.Scheme
	if scheme != "hmac" {
		var err error
		if preset, err = (*HMAC)(nil).scheme(scheme); err != nil {
			return d.Err(err.Error())
		}
	}
	seen := map[string]bool{}
	var hm HMAC
	for d.NextBlock(0) {
		sub := d.Val()
		if sub != "secret" {
			if seen[sub] {
				return d.Errf("%s already specified", sub)
			}
			seen[sub] = true
		}
		switch sub {
		case "secret":
			s, err := parseSecret(d, preset)
			if err != nil {
				return err
			}
			h.Secrets = append(h.Secrets, s)
		case "tolerance", "lease":
			dur, err := durationArg(d)
			if err != nil {
				return err
			}
			if sub == "tolerance" {
				h.Tolerance = dur
			} else {
				h.Lease = dur
			}
		case "dedupe":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if d.Val() == "off" {
				h.DisableDedupe = true
			} else {
				dur, err := caddy.ParseDuration(d.Val())
				if err != nil || dur <= 0 {
					return d.Errf("dedupe: want a positive duration or off, got %q", d.Val())
				}
				h.Dedupe = caddy.Duration(dur)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "max_body", "replay_max":
			size, err := sizeArg(d)
			if err != nil {
				return err
			}
			if sub == "max_body" {
				h.MaxBody = size
			} else {
				h.ReplayMax = size
			}
		case "signature_header", "timestamp_header", "id_header", "id_field", "signed_payload",
			"algorithm", "encoding", "prefix", "secret_encoding":
			if scheme != "hmac" {
				return d.Errf("%s applies only to scheme hmac, not %s", sub, scheme)
			}
			if !d.NextArg() {
				return d.ArgErr()
			}
			val := d.Val()
			if sub == "signed_payload" {
				// The Caddyfile adapter expands the {method} shorthand
				// before this parser sees it; take it back.
				val = strings.ReplaceAll(val, "{http.request.method}", "{method}")
			}
			*hmacField(&hm, sub) = val
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized subdirective %q", sub)
		}
	}

	// What can be checked before provisioning is checked here, so that
	// the error carries the file and line.
	s := preset
	if scheme == "hmac" {
		h.HMAC = &hm
		var err error
		if s, err = h.HMAC.scheme(scheme); err != nil {
			return d.Err(err.Error())
		}
		for _, sec := range h.Secrets {
			if err := checkSecret(s, sec.Value); err != nil {
				return d.Err(err.Error())
			}
		}
	}
	if len(h.Secrets) == 0 {
		return d.Err("webhook_verify needs at least one secret")
	}
	if !h.DisableDedupe && s.HasTimestamp() {
		dedupe, tolerance := time.Duration(h.Dedupe), time.Duration(h.Tolerance)
		if dedupe == 0 {
			dedupe = defaultDedupe
		}
		if tolerance == 0 {
			tolerance = schemeTolerance(s)
		}
		if dedupe < 2*tolerance {
			return d.Errf("dedupe %s must be at least twice the tolerance %s", dedupe, tolerance)
		}
	}
	return nil
}

// parseSecret parses `secret <value> [not_after <RFC3339>]`, checking the
// value against the scheme when it is known and not a placeholder.
func parseSecret(d *caddyfile.Dispenser, scheme *signature.Scheme) (Secret, error) {
	var s Secret
	if !d.NextArg() {
		return s, d.ArgErr()
	}
	s.Value = d.Val()
	if strings.TrimSpace(s.Value) == "" {
		return s, d.Err("secret is empty")
	}
	if scheme != nil {
		if err := checkSecret(scheme, s.Value); err != nil {
			return s, d.Err(err.Error())
		}
	}
	if d.NextArg() {
		if d.Val() != "not_after" || !d.NextArg() {
			return s, d.Errf("after the secret, want: not_after <RFC3339>")
		}
		t, err := time.Parse(time.RFC3339, d.Val())
		if err != nil {
			return s, d.Errf("not_after: want an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", d.Val())
		}
		s.NotAfter = t
	}
	if d.NextArg() {
		return s, d.ArgErr()
	}
	return s, nil
}

// checkSecret decodes a literal secret for scheme; a placeholder is
// resolved, and so checked, at provision.
func checkSecret(scheme *signature.Scheme, value string) error {
	if strings.Contains(value, "{") {
		return nil
	}
	if _, err := scheme.ParseSecret(value); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	return nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s: want a positive duration such as 5m, got %q", name, d.Val())
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return caddy.Duration(dur), nil
}

func sizeArg(d *caddyfile.Dispenser) (int64, error) {
	name := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	size, err := humanize.ParseBytes(d.Val())
	if err != nil || size == 0 || size > 1<<40 {
		return 0, d.Errf("%s: want a size such as 10MiB, got %q", name, d.Val())
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return int64(size), nil
}

// hmacField returns the HMAC setting a subdirective sets.
func hmacField(c *HMAC, sub string) *string {
	return map[string]*string{
		"signature_header": &c.SignatureHeader,
		"timestamp_header": &c.TimestampHeader,
		"id_header":        &c.IDHeader,
		"id_field":         &c.IDField,
		"signed_payload":   &c.SignedPayload,
		"algorithm":        &c.Algorithm,
		"encoding":         &c.Encoding,
		"prefix":           &c.Prefix,
		"secret_encoding":  &c.SecretEncoding,
	}[sub]
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
