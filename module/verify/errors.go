package verify

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/hookguard/hookguard/module/signature"
)

// refusal is why a request was not forwarded: an HTTP status and a stable
// error code, which is what clients and handle_errors routes match on.
type refusal struct {
	status  int
	code    string
	message string
	cause   error
}

func (e *refusal) Error() string {
	if e.cause != nil {
		return e.code + ": " + e.cause.Error()
	}
	return e.code + ": " + e.message
}

func (e *refusal) Unwrap() error { return e.cause }

var (
	errBodyTooLarge = &refusal{status: http.StatusRequestEntityTooLarge, code: "body_too_large", message: "request body is larger than max_body"}
	errReadBody     = &refusal{status: http.StatusBadRequest, code: "unreadable_body", message: "request body could not be read"}
	errInFlight     = &refusal{status: http.StatusConflict, code: "duplicate_in_flight", message: "a delivery of this event is being processed; retry later"}
)

// storeRetryAfter is the Retry-After, in seconds, of a store_unavailable
// answer. The sender retries a 503 either way; this tells it when the store
// may be back.
const storeRetryAfter = "2"

// storeUnavailable is the refusal while the dedupe store fails: a 503 with
// Retry-After, never a forward that dedupe did not check.
func storeUnavailable(w http.ResponseWriter, cause error) *refusal {
	w.Header().Set("Retry-After", storeRetryAfter)
	return &refusal{http.StatusServiceUnavailable, "store_unavailable", "dedupe store unavailable", cause}
}

// verifyError maps a signature error to its refusal. Malformed input is a
// 400, a signature that does not hold is a 401.
func verifyError(err error) *refusal {
	var rf refusal
	switch {
	case errors.Is(err, signature.ErrMissingSignature):
		rf = refusal{http.StatusUnauthorized, "missing_signature", "the request carries no signature", err}
	case errors.Is(err, signature.ErrMalformedSignature):
		rf = refusal{http.StatusBadRequest, "malformed_signature", "the signature header could not be parsed", err}
	case errors.Is(err, signature.ErrMalformedTimestamp):
		rf = refusal{http.StatusBadRequest, "malformed_timestamp", "the timestamp is not a plain integer", err}
	case errors.Is(err, signature.ErrStaleTimestamp):
		rf = refusal{http.StatusUnauthorized, "stale_timestamp", "the timestamp is outside the tolerance", err}
	default:
		rf = refusal{http.StatusUnauthorized, "invalid_signature", "no configured secret matches the signature", err}
	}
	return &rf
}

// writeJSONError answers with the refusal as a JSON body.
func writeJSONError(w http.ResponseWriter, rf *refusal) error {
	body, _ := json.Marshal(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{rf.code, rf.message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rf.status)
	_, err := w.Write(append(body, '\n'))
	return err
}
