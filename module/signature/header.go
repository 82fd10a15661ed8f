package signature

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
)

// Limits on what Verify parses. A request over them is rejected as
// malformed before any MAC is computed, so a hostile header costs no more
// than one pass over MaxHeaderBytes.
const (
	// MaxHeaderBytes is the longest header value Verify reads.
	MaxHeaderBytes = 8 << 10
	// MaxSignatures is the most signature entries one header may carry.
	MaxSignatures = 16
)

// sigFormat is the layout of a signature header value.
type sigFormat uint8

const (
	// fmtSingle is one value after a fixed prefix: "sha256=<hex>", "v0=<hex>",
	// or a bare value when the prefix is empty.
	fmtSingle sigFormat = iota
	// fmtList is Standard Webhooks' space-separated "<tag>,<value>" list.
	fmtList
	// fmtPairs is Stripe's and Paddle's "<key>=<value>" items joined by a
	// separator, one of them the timestamp: "t=…,v1=…,v1=…", "ts=…;h1=…".
	// Without a timestamp key it is a list of tagged signatures
	// ("v1=…,v1=…", PagerDuty).
	fmtPairs
	// fmtLeading is a timestamp followed by signatures, joined by a
	// separator, with no keys: "<ts>,<sig>,<sig>" (Recurly).
	fmtLeading
)

// layout describes a signature header completely enough to parse and to
// write it.
type layout struct {
	format sigFormat
	prefix string // fmtSingle: the required prefix
	tag    string // fmtList, fmtPairs: the version tag that counts
	tsKey  string // fmtPairs: key of the timestamp item, if any
	sep    string // fmtPairs, fmtLeading: item separator
}

// multi reports whether the header can carry several signatures, so that
// Sign writes one per secret.
func (l layout) multi() bool { return l.format != fmtSingle }

// parsed is what a signature header yields before any cryptography.
type parsed struct {
	ts   string   // fmtPairs, fmtLeading: the timestamp item's value
	sigs []string // encoded signatures carrying the counted tag, in order
}

// parse splits a header value into its timestamp and candidate signatures.
// Entries with other version tags are skipped unread, so they can never be
// trusted; so are a list's entries that carry no version tag at all
// (`sha1=…`, `none`), as the Standard Webhooks libraries skip them: a
// header of nothing else is refused as unsigned, not as malformed. Every
// counted signature must use the encoding's alphabet.
func (l layout) parse(v string, enc encoding) (parsed, error) {
	return l.parseInto(nil, v, enc)
}

// parseInto is parse appending the signatures to sigs, so that a caller can
// offer a buffer on its stack.
func (l layout) parseInto(sigs []string, v string, enc encoding) (parsed, error) {
	p := parsed{sigs: sigs[:0]}
	switch l.format {
	case fmtList:
		n := 0
		for rest := v; rest != ""; {
			var entry string
			entry, rest, _ = strings.Cut(rest, " ")
			if entry == "" {
				continue
			}
			if n++; n > MaxSignatures {
				return p, fmt.Errorf("%w: more than %d signatures", ErrMalformedSignature, MaxSignatures)
			}
			if tag, sig, ok := strings.Cut(entry, ","); ok && tag == l.tag {
				p.sigs = append(p.sigs, sig)
			}
		}
	case fmtPairs:
		n, seenTS := 0, false
		for _, item := range strings.Split(v, l.sep) {
			key, val, ok := strings.Cut(item, "=")
			if !ok || key == "" || strings.Contains(val, "=") && (key == l.tsKey || !enc.padded()) {
				return p, fmt.Errorf("%w: item is not <key>=<value>", ErrMalformedSignature)
			}
			if l.tsKey != "" && key == l.tsKey {
				if seenTS {
					return p, fmt.Errorf("%w: repeated %s= item", ErrMalformedSignature, l.tsKey)
				}
				seenTS, p.ts = true, val
				continue
			}
			if n++; n > MaxSignatures {
				return p, fmt.Errorf("%w: more than %d signatures", ErrMalformedSignature, MaxSignatures)
			}
			if key == l.tag {
				p.sigs = append(p.sigs, val)
			}
		}
		if l.tsKey != "" && p.ts == "" {
			return p, fmt.Errorf("%w: no %s= timestamp", ErrMissingSignature, l.tsKey)
		}
	case fmtLeading:
		items := strings.Split(v, l.sep)
		if len(items)-1 > MaxSignatures {
			return p, fmt.Errorf("%w: more than %d signatures", ErrMalformedSignature, MaxSignatures)
		}
		p.ts, p.sigs = items[0], append(p.sigs, items[1:]...)
		if p.ts == "" {
			return p, fmt.Errorf("%w: no leading timestamp", ErrMissingSignature)
		}
	default:
		sig, ok := strings.CutPrefix(v, l.prefix)
		if !ok {
			return p, fmt.Errorf("%w: unsupported signature version", ErrInvalidSignature)
		}
		p.sigs = append(p.sigs, sig)
	}
	for _, sig := range p.sigs {
		if !enc.wellFormed(sig) {
			return p, fmt.Errorf("%w: signature is not %s", ErrMalformedSignature, enc)
		}
	}
	if len(p.sigs) == 0 {
		return p, fmt.Errorf("%w: no %s signature", ErrInvalidSignature, l.tag)
	}
	return p, nil
}

// write renders a header value carrying every signature (fmtList,
// fmtPairs) or the first (fmtSingle).
func (l layout) write(ts string, sigs []string) string {
	var b strings.Builder
	switch l.format {
	case fmtList:
		for i, sig := range sigs {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(l.tag + "," + sig)
		}
	case fmtPairs:
		for i, sig := range sigs {
			if i > 0 || l.tsKey != "" {
				b.WriteString(l.sep)
			}
			b.WriteString(l.tag + "=" + sig)
		}
		if l.tsKey != "" {
			return l.tsKey + "=" + ts + b.String()
		}
	case fmtLeading:
		b.WriteString(ts)
		for _, sig := range sigs {
			b.WriteString(l.sep + sig)
		}
	default:
		b.WriteString(l.prefix + sigs[0])
	}
	return b.String()
}

// canonicalNames maps each header name a preset reads to its canonical
// form, so that reading a preset's headers allocates nothing. register
// fills it during package initialisation only; afterwards it is read-only.
var canonicalNames = map[string]string{}

// setHeader sets a header a scheme writes, as http.Header.Set does, but
// without canonicalising a preset's header name on every call.
func setHeader(h http.Header, name, value string) {
	canon, ok := canonicalNames[name]
	if !ok {
		canon = textproto.CanonicalMIMEHeaderKey(name)
	}
	h[canon] = []string{value}
}

// readHeader returns the single value of a header the scheme reads. It
// matches names case-insensitively, even in a hand-built http.Header whose
// keys are not canonical, and treats several lines as malformed so that no
// first-wins or last-wins rule can be exploited.
func readHeader(h http.Header, name string) (string, error) {
	canon, ok := canonicalNames[name]
	if !ok {
		canon = textproto.CanonicalMIMEHeaderKey(name)
	}
	vals := h[canon]
	for k, vs := range h {
		if k != canon && strings.EqualFold(k, name) {
			vals = append(vals[:len(vals):len(vals)], vs...)
		}
	}
	switch {
	case len(vals) > 1:
		return "", fmt.Errorf("%w: %s sent %d times", ErrMalformedSignature, name, len(vals))
	case len(vals) == 0 || vals[0] == "":
		return "", fmt.Errorf("%w: no %s header", ErrMissingSignature, name)
	case len(vals[0]) > MaxHeaderBytes:
		return "", fmt.Errorf("%w: %s longer than %d bytes", ErrMalformedSignature, name, MaxHeaderBytes)
	}
	return vals[0], nil
}
