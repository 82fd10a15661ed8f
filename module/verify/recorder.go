package verify

import (
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hookguard/hookguard/module/store"
)

// recorder passes the upstream's response through to the client while it
// keeps its status, Content-Type and the first max bytes of its body, to
// answer duplicates with later.
type recorder struct {
	caddyhttp.ResponseWriterWrapper
	max    int64
	status int
	body   []byte
}

func newRecorder(w http.ResponseWriter, max int64) *recorder {
	return &recorder{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, max: max}
}

// WriteHeader records the final status; informational ones pass through.
func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 && (status >= 200 || status == http.StatusSwitchingProtocols) {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

// Write keeps the head of the body and passes everything through.
func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if room := rec.max - int64(len(rec.body)); room > 0 {
		rec.body = append(rec.body, p[:min(int64(len(p)), room)]...)
	}
	return rec.ResponseWriter.Write(p)
}

// ReadFrom goes through Write, so that nothing bypasses the recording.
func (rec *recorder) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{rec}, r)
}

// response is what a duplicate is answered with. A handler that wrote
// nothing answered 200, as net/http does.
func (rec *recorder) response() store.Response {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	return store.Response{
		Status:      status,
		ContentType: rec.Header().Get("Content-Type"),
		Body:        rec.body,
	}
}
