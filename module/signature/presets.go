package signature

import (
	"fmt"
	"net/textproto"
	"sort"
	"strings"
	"time"
)

// presets are the provider schemes, keyed by name. The data-driven
// families A to D fill it from their rows (presets_*.go); a file of
// bespoke families adds its schemes with register from its init.
var presets = map[string]Scheme{}

// register adds presets. Each needs a name, a family and a source; a name
// may be registered once.
func register(ss ...Scheme) {
	for _, s := range ss {
		if s.Name == "" || s.doc.family == 0 || s.doc.source == "" {
			panic(fmt.Sprintf("signature: preset %q needs a name, a family and a source", s.Name))
		}
		if _, dup := presets[s.Name]; dup {
			panic("signature: preset registered twice: " + s.Name)
		}
		presets[s.Name] = s
		for _, h := range s.Headers() {
			canonicalNames[h] = textproto.CanonicalMIMEHeaderKey(h)
		}
	}
}

func init() {
	for _, r := range standardRows {
		register(r.scheme())
	}
	for _, r := range pairsRows {
		register(r.scheme())
	}
	for _, r := range timestampedRows {
		register(r.scheme('C'))
	}
	for _, r := range bodyRows {
		register(r.scheme('D'))
	}
}

// doc is what Describe says about a preset beyond its data fields.
type doc struct {
	family byte   // 'A' to 'H', as in providers.md
	source string // where the rules were checked
	// signed, encoding, secret and dedupe replace the derived descriptions
	// for a custom family.
	signed, encoding, secret, dedupe string
}

// Family A: Standard Webhooks and its aliases. One row is a header prefix
// and a key format; everything else is the spec's: "{id}.{ts}.{body}",
// HMAC-SHA256, canonical base64 in a space-separated "v1,<sig>" list,
// seconds, the signed ID header, and the libraries' 5 minute tolerance.
type standardRow struct {
	name   string
	prefix string      // header prefix: "webhook-", "svix-"
	key    keyEncoding // keyBase64 (after whsec_), keyBase64V1 or keyRaw
	source string
}

func (r standardRow) scheme() Scheme {
	return Scheme{
		Name:      r.name,
		sigHeader: r.prefix + "signature",
		tsHeader:  r.prefix + "timestamp",
		idHeader:  r.prefix + "id",
		layout:    layout{format: fmtList, tag: "v1"},
		content:   mustTemplate("{id}.{timestamp}.{body}"),
		enc:       encBase64,
		keyEnc:    r.key,
		unit:      tsSeconds,
		tolerance: 5 * time.Minute,
		doc:       doc{family: 'A', source: r.source},
	}
}

// Family B: the timestamp travels inside the signature header as one of
// its items ("t=<ts>,v1=<sig>") or before the signatures ("<ts>,<sig>").
type pairsRow struct {
	name, header string
	tsKey, tag   string // item keys; no keys at all for fmtLeading
	sep          string // item separator: ",", ";", "&", ", "
	leading      bool   // "<ts><sep><sig>…" without keys
	unit         tsUnit
	content      string // the signed content template
	enc          encoding
	key          keyEncoding
	idField      string // dotted path of the signed body's ID, if any
	tolerance    time.Duration
	source       string
}

func (r pairsRow) scheme() Scheme {
	l := layout{format: fmtPairs, tsKey: r.tsKey, tag: r.tag, sep: r.sep}
	if r.leading {
		l = layout{format: fmtLeading, sep: r.sep}
	}
	return Scheme{
		Name:      r.name,
		sigHeader: r.header,
		idField:   fieldPath(r.idField),
		layout:    l,
		content:   mustTemplate(r.content),
		enc:       r.enc,
		keyEnc:    r.key,
		unit:      r.unit,
		tolerance: r.tolerance,
		doc:       doc{family: 'B', source: r.source},
	}
}

// Families C and D share one row type. C has a separate timestamp (a
// header, or a body field) signed with the body, an ID or request parts;
// D is an HMAC of the body alone, so without a timestamp replay protection
// is dedupe's job and the ID comes from the signed body where the provider
// puts one there.
type hmacRow struct {
	name              string
	header, prefix    string   // signature header and the prefix of its value
	multi             string   // separator of several prefixed signatures ("v1=a,v1=b")
	altHeaders        []string // optional headers with signatures by other keys
	tsHeader          string
	idHeader          string // a header the template signs as {id}
	sigField, tsField string // body fields instead of headers (Mailgun, Linear)
	idField           string // dotted path of the signed body's ID, or with sigField the signed {id} field
	unit              tsUnit
	content           string // the signed content template; default "{body}"
	url               urlForm
	alg               algorithm
	enc               encoding
	key               keyEncoding
	tolerance         time.Duration
	eventHeader       string // an unsigned header Sign repeats the ID in
	source            string
}

func (r hmacRow) scheme(family byte) Scheme {
	if r.content == "" {
		r.content = "{body}"
	}
	if (r.tsHeader != "" || r.tsField != "") != (r.unit != tsNone) {
		panic("signature: preset " + r.name + " needs a timestamp unit exactly when it has a timestamp")
	}
	s := Scheme{
		Name:        r.name,
		sigHeader:   r.header,
		altHeaders:  r.altHeaders,
		tsHeader:    r.tsHeader,
		idHeader:    r.idHeader,
		eventHeader: r.eventHeader,
		layout:      layout{prefix: r.prefix},
		content:     mustTemplate(r.content),
		url:         r.url,
		alg:         r.alg,
		enc:         r.enc,
		keyEnc:      r.key,
		unit:        r.unit,
		tolerance:   r.tolerance,
		doc:         doc{family: family, source: r.source},
	}
	if r.multi != "" {
		s.layout = layout{format: fmtPairs, tag: strings.TrimSuffix(r.prefix, "="), sep: r.multi}
	}
	switch {
	case r.sigField != "":
		s.fields = bodyFields{sig: fieldPath(r.sigField), ts: fieldPath(r.tsField), id: fieldPath(r.idField)}
	case r.tsField != "":
		s.fields.ts, s.idField = fieldPath(r.tsField), fieldPath(r.idField)
	default:
		s.idField = fieldPath(r.idField)
	}
	return s
}

// fieldPath parses a preset's dotted JSON path; "" is none.
func fieldPath(path string) []string {
	if path == "" {
		return nil
	}
	p, err := parseFieldPath(path)
	if err != nil {
		panic(err)
	}
	return p
}

// Lookup returns a fresh copy of the named preset, so that changing it
// cannot affect other users.
func Lookup(name string) (*Scheme, bool) {
	p, ok := presets[name]
	if !ok {
		return nil, false
	}
	return &p, true
}

// Names returns the preset names, sorted. The generic "hmac" scheme is not
// a preset: build it with NewHMAC.
func Names() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
