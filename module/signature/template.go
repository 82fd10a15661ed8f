package signature

import (
	"fmt"
	"io"
	"strings"
)

// field is one placeholder of a signed-content template.
type field uint8

const (
	fieldLiteral field = iota
	fieldID
	fieldTimestamp
	fieldBody
	fieldMethod
	fieldURL
)

// fieldTokens maps template tokens to fields.
var fieldTokens = map[string]field{
	"{id}":        fieldID,
	"{timestamp}": fieldTimestamp,
	"{body}":      fieldBody,
	"{method}":    fieldMethod,
	"{url}":       fieldURL,
}

// part is a literal string or a field of a template.
type part struct {
	field field
	lit   string
}

// template is the signed content of a scheme, such as "{id}.{timestamp}.{body}".
type template []part

// content holds the values a template is rendered from. ts is the
// timestamp exactly as it travels on the wire.
type content struct {
	id, ts, method, url string
	body                []byte
}

// parseTemplate parses tokens {id} {timestamp} {body} {method} {url} and
// literal text. Any other brace is an error, so a typo cannot silently
// become literal text.
func parseTemplate(s string) (template, error) {
	var t template
	for s != "" {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			t = append(t, part{lit: s})
			break
		}
		if i > 0 {
			t = append(t, part{lit: s[:i]})
			s = s[i:]
		}
		end := strings.IndexByte(s, '}')
		if s[0] == '}' || end < 0 {
			return nil, fmt.Errorf("unbalanced brace in signed payload template %q", s)
		}
		f, ok := fieldTokens[s[:end+1]]
		if !ok {
			return nil, fmt.Errorf("unknown token %s in signed payload template (want {id} {timestamp} {body} {method} {url})", s[:end+1])
		}
		t = append(t, part{field: f})
		s = s[end+1:]
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("empty signed payload template")
	}
	return t, nil
}

// mustTemplate parses a preset's template.
func mustTemplate(s string) template {
	t, err := parseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// has reports whether the template contains the field.
func (t template) has(f field) bool {
	for _, p := range t {
		if p.field == f {
			return true
		}
	}
	return false
}

// write renders the template into w, typically a running MAC, so that the
// body is never copied.
func (t template) write(w io.Writer, c content) {
	for _, p := range t {
		switch p.field {
		case fieldID:
			io.WriteString(w, c.id)
		case fieldTimestamp:
			io.WriteString(w, c.ts)
		case fieldBody:
			w.Write(c.body)
		case fieldMethod:
			io.WriteString(w, c.method)
		case fieldURL:
			io.WriteString(w, c.url)
		default:
			io.WriteString(w, p.lit)
		}
	}
}

// writeBuffered is write for a hot path: text parts are gathered in buf
// and written in one call before and after the body, so that no string is
// converted to bytes per part. It returns buf for reuse.
func (t template) writeBuffered(w io.Writer, c content, buf []byte) []byte {
	buf = buf[:0]
	for _, p := range t {
		switch p.field {
		case fieldID:
			buf = append(buf, c.id...)
		case fieldTimestamp:
			buf = append(buf, c.ts...)
		case fieldMethod:
			buf = append(buf, c.method...)
		case fieldURL:
			buf = append(buf, c.url...)
		case fieldBody:
			w.Write(buf)
			w.Write(c.body)
			buf = buf[:0]
		default:
			buf = append(buf, p.lit...)
		}
	}
	w.Write(buf)
	return buf
}

// String renders the template with its tokens, as the presets table shows
// it.
func (t template) String() string {
	var b strings.Builder
	for _, p := range t {
		if p.field == fieldLiteral {
			b.WriteString(p.lit)
			continue
		}
		for tok, f := range fieldTokens {
			if f == p.field {
				b.WriteString(tok)
			}
		}
	}
	return b.String()
}

// urlForm is how a scheme's {url} is written before signing.
type urlForm uint8

const (
	// urlAsSent is the URL exactly as the sender addressed it.
	urlAsSent urlForm = iota
	// urlHubSpot decodes the percent-escapes HubSpot's v3 signature
	// decodes: %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B.
	urlHubSpot
)

// hubspotUnescaper decodes the escapes of urlHubSpot, in either case.
var hubspotUnescaper = func() *strings.Replacer {
	var pairs []string
	for _, c := range ":/?@!$'()*,;" {
		esc := fmt.Sprintf("%%%02X", c)
		pairs = append(pairs, esc, string(c), strings.ToLower(esc), string(c))
	}
	return strings.NewReplacer(pairs...)
}()

// apply renders rawURL in the form.
func (f urlForm) apply(rawURL string) string {
	if f == urlHubSpot {
		return hubspotUnescaper.Replace(rawURL)
	}
	return rawURL
}
