package verify

import (
	"net/http"
	"strconv"

	"github.com/hookguard/hookguard/module/signature"
)

// answerHandshake writes a provider handshake's answer (signature.Reply)
// in place of the upstream's. A handshake is never forwarded and never
// claims a dedupe key: the unsigned ones are answered before
// verification, the signed ones right after it.
func (h *Handler) answerHandshake(w http.ResponseWriter, rep *signature.Reply) error {
	h.metrics.requests.WithLabelValues(h.Scheme, "handshake").Inc()
	for k, vs := range rep.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.Body)))
	w.WriteHeader(rep.Status)
	_, err := w.Write(rep.Body)
	return err
}
