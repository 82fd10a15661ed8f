package webhooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hookguard/hookguard/module/delivery"
	"github.com/hookguard/hookguard/module/store"
)

func init() {
	caddy.RegisterModule(Intake{})
	httpcaddyfile.RegisterHandlerDirective("webhook_dispatch", parseIntake)
	httpcaddyfile.RegisterDirectiveOrder("webhook_dispatch", httpcaddyfile.Before, "respond")
}

// maxIntakeBody bounds an intake request's body.
const maxIntakeBody = 1 << 20

// Intake is where the local app hands events to the dispatcher: a POST of
// `{"type":"…","data":{…}}`, with an optional `Idempotency-Key` header. It
// answers 202 with the event and its deliveries once they are stored and
// synced to disk; the webhooks app's workers then deliver them.
type Intake struct {
	app *App
}

// CaddyModule returns the Caddy module information.
func (Intake) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.webhook_dispatch",
		New: func() caddy.Module { return new(Intake) },
	}
}

// Provision gets the webhooks app and turns its dispatcher on.
func (in *Intake) Provision(ctx caddy.Context) error {
	app, err := ctx.App("webhooks")
	if err != nil {
		return fmt.Errorf("getting webhooks app: %w", err)
	}
	in.app = app.(*App)
	in.app.dispatching = true
	return nil
}

// ServeHTTP accepts one event.
func (in *Intake) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "events are POSTed")
	}
	err := in.app.intake(w, r)
	var ie *delivery.IntakeError
	if errors.As(err, &ie) {
		return writeError(w, intakeStatus(ie), ie.Code, ie.Message)
	}
	if err != nil {
		// Fail closed: nothing was acknowledged, so the app retries.
		if c := in.app.logger.Check(zapcore.WarnLevel, "event not accepted: store unavailable"); c != nil {
			c.Write(zap.Error(err))
		}
		w.Header().Set("Retry-After", storeRetryAfter)
		return writeError(w, http.StatusServiceUnavailable, "store_unavailable", "the event could not be stored; retry later")
	}
	return nil
}

// storeRetryAfter is the Retry-After, in seconds, of a 503 answered while
// the store fails.
const storeRetryAfter = "2"

// errEventTooLarge refuses an event over maxIntakeBody.
var errEventTooLarge = &delivery.IntakeError{Code: "body_too_large", Message: "the event is larger than 1 MiB"}

// intakeStatus is the HTTP status of a refused event: 413 for one over
// the size limit, as webhook_verify answers a body over max_body, else 400.
func intakeStatus(ie *delivery.IntakeError) int {
	if errors.Is(ie, errEventTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// intake reads one event from r, accepts it and answers 202: what both
// this handler and the admin API's POST /webhooks/events do. A refused
// event is a *delivery.IntakeError, to be answered with intakeStatus; any
// other error is the store's.
func (a *App) intake(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxIntakeBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errEventTooLarge
		}
		return &delivery.IntakeError{Code: "unreadable_body", Message: "the body could not be read"}
	}
	ev, deliveries, replayed, err := a.accept(r, body)
	if err != nil {
		return err
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	answer, ok := appendEventJSON(make([]byte, 0, 160+96*len(deliveries)), ev, deliveries)
	if !ok {
		return writeJSON(w, http.StatusAccepted, eventJSON(ev, deliveries))
	}
	return writeJSONBody(w, http.StatusAccepted, append(answer, '\n'))
}

// accept validates an intake body, fans it out to the subscribed endpoints
// and stores it. A repeated Idempotency-Key returns the first event, with
// replayed true.
func (a *App) accept(r *http.Request, body []byte) (ev store.Event, ds []store.Delivery, replayed bool, err error) {
	typ, data, subject, err := delivery.ParseIntake(body)
	if err != nil {
		return ev, nil, false, err
	}
	now := time.Now()
	ev = store.Event{ID: delivery.NewEventID(), Type: typ, Created: now, Data: data,
		IdempotencyKey: r.Header.Get("Idempotency-Key")}
	if subject != nil {
		ev.Subject, _ = json.Marshal(subject)
	}
	select {
	case <-a.dispatch.ready:
	case <-r.Context().Done():
		return ev, nil, false, r.Context().Err()
	}
	st := a.Store()
	if st == nil {
		return ev, nil, false, errors.New("webhook store not open")
	}
	endpoints, err := st.ListEndpoints(r.Context())
	if err != nil {
		return ev, nil, false, fmt.Errorf("listing endpoints: %w", err)
	}
	for _, ep := range endpoints {
		if ep.Status != store.EndpointActive || len(ep.EventTypes) > 0 && !slices.Contains(ep.EventTypes, typ) {
			continue
		}
		ds = append(ds, store.Delivery{ID: delivery.NewDeliveryID(), EventID: ev.ID, EndpointID: ep.ID,
			Status: store.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now})
	}
	// The deliveries go straight to the workers' in-memory queue, stored
	// as already leased; those it has no room for wait in the stored
	// queue to be claimed.
	handoff := a.dispatch.dispatcher.Reserve(len(ds))
	handoff.Lease(ds, now)
	ev, ds, created, err := st.CreateEvent(r.Context(), ev, ds, a.dispatch.retention)
	if err != nil || !created {
		handoff.Cancel()
	}
	if err != nil {
		return ev, nil, false, fmt.Errorf("storing event: %w", err)
	}
	if created {
		handoff.Hand(ev, ds)
		if handoff.Len() < len(ds) {
			a.wakeWorkers()
		}
	}
	return ev, ds, !created, nil
}

// eventView is an event as the intake and the admin API show it.
type eventView struct {
	ID         string          `json:"id"`
	Object     string          `json:"object"`
	Type       string          `json:"type"`
	Created    int64           `json:"created"`
	Subject    json.RawMessage `json:"subject,omitempty"`
	Deliveries []deliveryRef   `json:"deliveries"`
}

// deliveryRef is one of an eventView's deliveries.
type deliveryRef struct {
	ID         string `json:"id"`
	EndpointID string `json:"endpoint_id"`
	Status     string `json:"status"`
}

// eventJSON is ev with its deliveries ds as an eventView.
func eventJSON(ev store.Event, ds []store.Delivery) eventView {
	refs := make([]deliveryRef, 0, len(ds))
	for _, d := range ds {
		refs = append(refs, deliveryRef{ID: d.ID, EndpointID: d.EndpointID, Status: d.Status})
	}
	return eventView{ID: ev.ID, Object: "event", Type: ev.Type, Created: ev.Created.Unix(), Subject: ev.Subject, Deliveries: refs}
}

// appendEventJSON appends what json.Marshal makes of eventJSON(ev, ds),
// without its reflection: every intake answers with it. It does so only
// when json.Marshal would copy every string and the subject byte for byte,
// as it does IDs and statuses; otherwise (a type with '<' or non-ASCII
// characters, say) it reports false, and the caller marshals.
func appendEventJSON(b []byte, ev store.Event, ds []store.Delivery) ([]byte, bool) {
	if !verbatimJSON(ev.ID, true) || !verbatimJSON(ev.Type, true) || !verbatimJSON(string(ev.Subject), false) {
		return nil, false
	}
	b = append(b, `{"id":"`...)
	b = append(b, ev.ID...)
	b = append(b, `","object":"event","type":"`...)
	b = append(b, ev.Type...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, ev.Created.Unix(), 10)
	if len(ev.Subject) > 0 {
		b = append(b, `,"subject":`...)
		b = append(b, ev.Subject...)
	}
	b = append(b, `,"deliveries":[`...)
	for i, d := range ds {
		if !verbatimJSON(d.ID, true) || !verbatimJSON(d.EndpointID, true) || !verbatimJSON(d.Status, true) {
			return nil, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = append(b, d.ID...)
		b = append(b, `","endpoint_id":"`...)
		b = append(b, d.EndpointID...)
		b = append(b, `","status":"`...)
		b = append(b, d.Status...)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...), true
}

// verbatimJSON reports whether json.Marshal copies s byte for byte: as a
// string's contents if quoted, else as compact raw JSON (a subject, which
// the intake stored as json.Marshal wrote it). Both must be printable
// ASCII without the characters it escapes for HTML; a string may hold
// spaces but no quote or backslash, raw JSON no spaces.
func verbatimJSON(s string, quoted bool) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < ' ' || c > '~' || c == '<' || c == '>' || c == '&':
			return false
		case quoted && (c == '"' || c == '\\'), !quoted && c == ' ':
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeJSONBody(w, status, append(body, '\n'))
}

// writeJSONBody answers status with body, which is JSON.
func writeJSONBody(w http.ResponseWriter, status int, body []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

func writeError(w http.ResponseWriter, status int, code, message string) error {
	return writeJSON(w, status, map[string]string{"error": code, "message": message})
}

func parseIntake(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	in := new(Intake)
	err := in.UnmarshalCaddyfile(h.Dispenser)
	return in, err
}

// UnmarshalCaddyfile sets up the handler. Syntax:
//
//	webhook_dispatch
func (in *Intake) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("unrecognized subdirective %q", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Intake)(nil)
	_ caddyhttp.MiddlewareHandler = (*Intake)(nil)
	_ caddyfile.Unmarshaler       = (*Intake)(nil)
)
