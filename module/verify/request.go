package verify

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// readBody reads the whole body once, and at most limit bytes: one byte
// more than limit means the body is too large, whatever Content-Length
// claimed (a chunked body declares none).
func readBody(body io.Reader, declared, limit int64) ([]byte, *refusal) {
	var buf bytes.Buffer
	if declared > 0 {
		// Room for the body and for the read that finds its end: Buffer
		// grows before each read until it has MinRead bytes free.
		buf.Grow(int(declared) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	if n > limit {
		return nil, errBodyTooLarge
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errBodyTooLarge
		}
		return nil, &refusal{errReadBody.status, errReadBody.code, errReadBody.message, err}
	}
	return buf.Bytes(), nil
}

// requestURL is the absolute URL the sender addressed, for schemes that
// sign it (Twilio): the request's own host and TLS state, and its URI as
// it arrived, before any rewrite. Behind a trusted proxy, X-Forwarded-Proto
// and X-Forwarded-Host say what the sender saw.
func requestURL(r *http.Request) string {
	u := r.URL
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		u = orig.URL
	}
	proto, host := "http", r.Host
	if r.TLS != nil {
		proto = "https"
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); trusted {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			proto = p
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
	}
	return proto + "://" + host + u.RequestURI()
}
