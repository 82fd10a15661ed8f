package signature

import (
	"fmt"
	"strings"
	"time"
)

// Info describes a preset for people: `caddy webhook presets` prints it and
// the README's presets table is generated from it.
type Info struct {
	// Name is the preset name.
	Name string
	// Family is the family letter of providers.md, "A" to "H".
	Family string
	// Headers are the headers the preset reads, signature header first.
	Headers []string
	// Signature is the signature's syntax, such as "`v1,<sig>` list".
	Signature string
	// Signed is what is signed and how, such as
	// "HMAC-SHA256 of `{id}.{timestamp}.{body}`".
	Signed string
	// Encoding is the signature encoding.
	Encoding string
	// Secret is how the configured secret becomes a key.
	Secret string
	// Timestamp is the timestamp's unit and where it travels, "" if none.
	Timestamp string
	// Tolerance is the provider's recommended tolerance, the preset's
	// default; 0 when the provider recommends none.
	Tolerance time.Duration
	// Dedupe is where the dedupe key comes from: a signed ID, a signed body
	// field, or a hash of the signature or body.
	Dedupe string
	// Source is where the preset's rules were checked.
	Source string
}

// Describe returns every preset's Info, sorted by name.
func Describe() []Info {
	infos := make([]Info, 0, len(presets))
	for _, name := range Names() {
		s := presets[name]
		infos = append(infos, s.Info())
	}
	return infos
}

// Info describes the scheme from its data fields.
func (s *Scheme) Info() Info {
	in := Info{
		Name:      s.Name,
		Family:    string(s.doc.family),
		Headers:   s.Headers(),
		Signature: s.layout.describe(),
		Signed:    s.describeSigned(),
		Encoding:  s.enc.String(),
		Secret:    s.keyEnc.String(),
		Tolerance: s.tolerance,
		Dedupe:    s.describeDedupe(),
		Source:    s.doc.source,
	}
	switch {
	case s.unit == tsNone:
	case s.fields.ts != nil:
		in.Timestamp = fmt.Sprintf("%s, body field `%s`", s.unit, strings.Join(s.fields.ts, "."))
	default:
		in.Timestamp = s.unit.String()
	}
	if s.fields.sig != nil {
		in.Signature = fmt.Sprintf("body field `%s`", strings.Join(s.fields.sig, "."))
	}
	if s.alg == algToken {
		in.Signature, in.Encoding = "the secret", ""
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&in.Signed, s.doc.signed}, {&in.Encoding, s.doc.encoding}, {&in.Secret, s.doc.secret}, {&in.Dedupe, s.doc.dedupe}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if s.alg == algEd25519 {
		in.Secret = "Ed25519 public key, " + s.keyEnc.String()
	}
	return in
}

// describe renders the signature header's syntax.
func (l layout) describe() string {
	switch l.format {
	case fmtList:
		return fmt.Sprintf("`%s,<sig>` list, space-separated", l.tag)
	case fmtPairs:
		if l.tsKey == "" {
			return fmt.Sprintf("`%s=<sig>[%s%s=<sig>…]`", l.tag, l.sep, l.tag)
		}
		return fmt.Sprintf("`%s=<ts>%s%s=<sig>`", l.tsKey, l.sep, l.tag)
	case fmtLeading:
		return fmt.Sprintf("`<ts>%s<sig>[%s<sig>…]`", l.sep, l.sep)
	}
	return fmt.Sprintf("`%s<sig>`", l.prefix)
}

// describeSigned names the algorithm and the signed content.
func (s *Scheme) describeSigned() string {
	if s.doc.signed != "" {
		return s.doc.signed
	}
	name := map[algorithm]string{
		algSHA256:    "HMAC-SHA256",
		algSHA1:      "HMAC-SHA1",
		algSHA512:    "HMAC-SHA512",
		algEd25519:   "Ed25519",
		algPlainSHA1: "SHA-1 (not HMAC)",
	}[s.alg]
	if s.alg == algToken {
		return "the secret itself, compared in constant time"
	}
	c := "`" + s.content.String() + "`"
	if s.alg == algPlainSHA1 {
		c = "`" + s.content.String() + "{secret}`"
	}
	return name + " of " + c
}

// describeDedupe says where Result.DedupeKey comes from.
func (s *Scheme) describeDedupe() string {
	switch {
	case s.alg == algToken:
		return "hash of the body"
	case s.idHeader != "":
		return fmt.Sprintf("signed header `%s`", s.idHeader)
	case s.fields.id != nil:
		return fmt.Sprintf("signed body field `%s`", strings.Join(s.fields.id, "."))
	case s.idField != nil:
		return fmt.Sprintf("body field `%s`, else hash of the signature", strings.Join(s.idField, "."))
	}
	return "hash of the signature"
}
