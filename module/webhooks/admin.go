package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/hookguard/hookguard/module/delivery"
	"github.com/hookguard/hookguard/module/store"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI serves the outbound side of the `webhooks` app on Caddy's admin
// endpoint, under `/webhooks/`:
//
//	POST   /webhooks/endpoints                  create an endpoint (201, with its signing_secret)
//	GET    /webhooks/endpoints                  list endpoints (?include_deleted=true for deleted ones)
//	GET    /webhooks/endpoints/{id}             one endpoint
//	PATCH  /webhooks/endpoints/{id}             change url, event_types, headers, status
//	DELETE /webhooks/endpoints/{id}             soft delete
//	POST   /webhooks/endpoints/{id}/test        enqueue a webhook.test event to it alone (202)
//	POST   /webhooks/endpoints/{id}/rotations   new signing secret; the old one signs for rotation_overlap
//	POST   /webhooks/events                     the same as the webhook_dispatch intake (202)
//	GET    /webhooks/events                     the event log, newest first (?endpoint_id type status limit after)
//	GET    /webhooks/events/{id}                one event, its data and its webhook_deliveries
//	GET    /webhooks/deliveries/{id}            one delivery
//	POST   /webhooks/deliveries/{id}/retry      attempt a delivery again now (202)
//
// Every answer is JSON; an error is `{"error":"<code>","message":"…"}`.
// No answer but a create or a rotation ever holds a signing secret.
//
// Loading this module turns the webhooks app's delivery workers on, so
// that endpoints created here are served even by a config without static
// endpoints or a webhook_dispatch handler.
type AdminAPI struct {
	app    *App
	logger *zap.Logger
}

// runningApp is the webhooks app whose workers run, for an admin API
// provisioned before the app existed (a config whose only use of it is a
// handler, so Caddy instantiates it implicitly).
var runningApp atomic.Pointer[App]

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.webhooks",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision gets the webhooks app, if the config has one, and turns its
// dispatcher on. A config without the app is not an error: the routes
// then answer 503 until an app runs.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	app, err := ctx.AppIfConfigured("webhooks")
	if err == nil {
		a.app = app.(*App)
		a.app.dispatching = true
	}
	return nil
}

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/webhooks/", Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// apiError is an answer with an error code.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status, code, fmt.Sprintf(format, args...)}
}

var errNotFound = &apiError{http.StatusNotFound, "not_found", "no such resource"}

// serve routes a request under /webhooks/ and writes its answer, errors
// included, as JSON.
func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	app := a.app
	if app == nil {
		app = runningApp.Load()
	}
	if app == nil || app.dispatch == nil {
		return writeError(w, http.StatusServiceUnavailable, "webhooks_not_running",
			"the webhooks app is not running; configure the webhooks global option")
	}
	st := app.Store()
	if st == nil {
		return writeError(w, http.StatusServiceUnavailable, "store_unavailable",
			"the webhook store could not be opened; see the log")
	}
	err := a.route(w, r, app, st)
	if err == nil {
		return nil
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		a.logger.Error("webhooks admin request", zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.Error(err))
		ae = &apiError{http.StatusInternalServerError, "internal_error", "the request failed; see the log"}
	}
	if ae.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", ae.message)
		ae = errorf(ae.status, ae.code, "allowed: %s", ae.message)
	}
	return writeError(w, ae.status, ae.code, ae.message)
}

// methodNotAllowed answers 405 listing the allowed methods.
func methodNotAllowed(allowed ...string) error {
	return &apiError{http.StatusMethodNotAllowed, "method_not_allowed", strings.Join(allowed, ", ")}
}

func (a *AdminAPI) route(w http.ResponseWriter, r *http.Request, app *App, st store.Store) error {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/webhooks/"), "/"), "/")
	h := adminHandler{app: app, st: st, w: w, r: r}
	switch {
	case len(parts) == 1 && parts[0] == "endpoints":
		switch r.Method {
		case http.MethodPost:
			return h.createEndpoint()
		case http.MethodGet:
			return h.listEndpoints()
		}
		return methodNotAllowed(http.MethodGet, http.MethodPost)
	case len(parts) == 2 && parts[0] == "endpoints":
		switch r.Method {
		case http.MethodGet:
			return h.getEndpoint(parts[1])
		case http.MethodPatch:
			return h.patchEndpoint(parts[1])
		case http.MethodDelete:
			return h.deleteEndpoint(parts[1])
		}
		return methodNotAllowed(http.MethodGet, http.MethodPatch, http.MethodDelete)
	case len(parts) == 3 && parts[0] == "endpoints" && parts[2] == "test":
		if r.Method != http.MethodPost {
			return methodNotAllowed(http.MethodPost)
		}
		return h.testEndpoint(parts[1])
	case len(parts) == 3 && parts[0] == "endpoints" && parts[2] == "rotations":
		if r.Method != http.MethodPost {
			return methodNotAllowed(http.MethodPost)
		}
		return h.rotate(parts[1])
	case len(parts) == 1 && parts[0] == "events":
		switch r.Method {
		case http.MethodPost:
			return h.createEvent()
		case http.MethodGet:
			return h.listEvents()
		}
		return methodNotAllowed(http.MethodGet, http.MethodPost)
	case len(parts) == 2 && parts[0] == "events":
		if r.Method != http.MethodGet {
			return methodNotAllowed(http.MethodGet)
		}
		return h.getEvent(parts[1])
	case len(parts) == 2 && parts[0] == "deliveries":
		if r.Method != http.MethodGet {
			return methodNotAllowed(http.MethodGet)
		}
		return h.getDelivery(parts[1])
	case len(parts) == 3 && parts[0] == "deliveries" && parts[2] == "retry":
		if r.Method != http.MethodPost {
			return methodNotAllowed(http.MethodPost)
		}
		return h.retry(parts[1])
	}
	return errNotFound
}

// adminHandler is one admin request.
type adminHandler struct {
	app *App
	st  store.Store
	w   http.ResponseWriter
	r   *http.Request
}

// maxAdminBody bounds an admin request's body.
const maxAdminBody = 1 << 20

// decode reads the request body as exactly one JSON value into v,
// refusing unknown fields.
func (h adminHandler) decode(v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(h.w, h.r.Body, maxAdminBody))
	if err != nil {
		return errorf(http.StatusBadRequest, "unreadable_body", "the body could not be read or is over 1 MiB")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return errorf(http.StatusBadRequest, "unknown_field", "%v", err)
		}
		return errorf(http.StatusBadRequest, "invalid_json", "the body is not the expected JSON object: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "invalid_json", "the body holds more than one JSON value")
	}
	return nil
}

// endpointInput is the body of an endpoint create.
type endpointInput struct {
	Name       string            `json:"name"`
	URL        string            `json:"url"`
	EventTypes []string          `json:"event_types"`
	Scheme     string            `json:"scheme"`
	Headers    map[string]string `json:"headers"`
}

// endpointPatch is the body of an endpoint update; a field left out is
// left as it is.
type endpointPatch struct {
	URL        *string            `json:"url"`
	EventTypes *[]string          `json:"event_types"`
	Headers    *map[string]string `json:"headers"`
	Status     *string            `json:"status"`
}

// adminDisabled is the disabled reason of an endpoint disabled through the
// admin API.
const adminDisabled = "disabled through the admin API"

func (h adminHandler) checkURL(raw string) error {
	if _, err := h.app.dispatch.policy.CheckURL(raw); err != nil {
		return errorf(http.StatusBadRequest, "invalid_url", "%v", err)
	}
	return nil
}

func checkEventTypes(types []string) error {
	for _, t := range types {
		if strings.TrimSpace(t) == "" {
			return errorf(http.StatusBadRequest, "invalid_event_types", "an event type is empty")
		}
	}
	return nil
}

func checkHeaders(headers map[string]string) error {
	for k, v := range headers {
		if k == "" || strings.ContainsFunc(k, func(c rune) bool { return c <= ' ' || c >= 0x7f || c == ':' }) {
			return errorf(http.StatusBadRequest, "invalid_headers", "invalid header name %q", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return errorf(http.StatusBadRequest, "invalid_headers", "the value of header %s has a line break", k)
		}
	}
	return nil
}

func (h adminHandler) createEndpoint() error {
	var in endpointInput
	if err := h.decode(&in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Name) == "" {
		return errorf(http.StatusBadRequest, "missing_name", "an endpoint needs a name")
	}
	if in.Scheme == "" {
		in.Scheme = "standard"
	}
	if _, ok := delivery.SigningScheme(in.Scheme); !ok {
		return errorf(http.StatusBadRequest, "invalid_scheme", "unknown signing scheme %q (want one of %s)",
			in.Scheme, strings.Join(delivery.SigningSchemes, ", "))
	}
	if err := h.checkURL(in.URL); err != nil {
		return err
	}
	if err := checkEventTypes(in.EventTypes); err != nil {
		return err
	}
	if err := checkHeaders(in.Headers); err != nil {
		return err
	}
	// Metrics are labelled by endpoint name, so two live endpoints must not
	// share one.
	eps, err := h.st.ListEndpoints(h.r.Context())
	if err != nil {
		return fmt.Errorf("listing endpoints: %w", err)
	}
	for _, other := range eps {
		if other.Name == in.Name && other.Status != store.EndpointDeleted {
			return errorf(http.StatusConflict, "endpoint_name_taken", "endpoint %s is already named %q", other.ID, in.Name)
		}
	}
	now := time.Now()
	secret := delivery.NewSigningSecret()
	ep := store.Endpoint{ID: delivery.NewEndpointID(), Name: in.Name, URL: in.URL, EventTypes: in.EventTypes,
		Scheme: in.Scheme, Headers: in.Headers, Status: store.EndpointActive, CreatedAt: now, UpdatedAt: now,
		Secrets: []store.EndpointSecret{{Value: secret, CreatedAt: now}}}
	if err := h.st.PutEndpoint(h.r.Context(), ep); err != nil {
		return fmt.Errorf("storing endpoint: %w", err)
	}
	out := endpointJSON(ep)
	out["signing_secret"] = secret
	return writeJSON(h.w, http.StatusCreated, out)
}

func (h adminHandler) listEndpoints() error {
	includeDeleted := h.r.URL.Query().Get("include_deleted") == "true"
	eps, err := h.st.ListEndpoints(h.r.Context())
	if err != nil {
		return fmt.Errorf("listing endpoints: %w", err)
	}
	data := make([]map[string]any, 0, len(eps))
	for _, ep := range eps {
		if ep.Status == store.EndpointDeleted && !includeDeleted {
			continue
		}
		data = append(data, endpointJSON(ep))
	}
	return writeJSON(h.w, http.StatusOK, map[string]any{"data": data})
}

// endpoint returns the stored endpoint, or not_found.
func (h adminHandler) endpoint(id string) (store.Endpoint, error) {
	ep, err := h.st.GetEndpoint(h.r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && ep.ID != id {
		return ep, errorf(http.StatusNotFound, "not_found", "no endpoint %q", id)
	}
	return ep, err
}

func (h adminHandler) getEndpoint(id string) error {
	ep, err := h.endpoint(id)
	if err != nil {
		return err
	}
	return writeJSON(h.w, http.StatusOK, endpointJSON(ep))
}

// update applies fn to the endpoint, mapping an unknown ID to not_found.
func (h adminHandler) update(id string, fn func(ep *store.Endpoint) error) (store.Endpoint, error) {
	ep, err := h.st.UpdateEndpoint(h.r.Context(), id, fn)
	if errors.Is(err, store.ErrNotFound) {
		return ep, errorf(http.StatusNotFound, "not_found", "no endpoint %q", id)
	}
	return ep, err
}

// errStatic refuses a change the config would undo.
func errStatic(id string) error {
	return errorf(http.StatusConflict, "static_endpoint",
		"endpoint %s is declared in the config; change it there (only its status can be changed here)", id)
}

func (h adminHandler) patchEndpoint(id string) error {
	var p endpointPatch
	if err := h.decode(&p); err != nil {
		return err
	}
	if p.URL != nil {
		if err := h.checkURL(*p.URL); err != nil {
			return err
		}
	}
	if p.EventTypes != nil {
		if err := checkEventTypes(*p.EventTypes); err != nil {
			return err
		}
	}
	if p.Headers != nil {
		if err := checkHeaders(*p.Headers); err != nil {
			return err
		}
	}
	if p.Status != nil && *p.Status != store.EndpointActive && *p.Status != store.EndpointDisabled {
		return errorf(http.StatusBadRequest, "invalid_status", "status must be %q or %q (DELETE deletes)",
			store.EndpointActive, store.EndpointDisabled)
	}
	now := time.Now()
	ep, err := h.update(id, func(ep *store.Endpoint) error {
		switch {
		case ep.Static && (p.URL != nil || p.EventTypes != nil || p.Headers != nil || p.Status == nil):
			return errStatic(id)
		case ep.Static && ep.DisabledReason == configDisabled && *p.Status == store.EndpointActive:
			return errorf(http.StatusConflict, "static_endpoint", "endpoint %s is disabled in the config; enable it there", id)
		case ep.Status == store.EndpointDeleted:
			return errorf(http.StatusConflict, "endpoint_deleted", "endpoint %s is deleted", id)
		}
		if p.URL != nil {
			ep.URL = *p.URL
		}
		if p.EventTypes != nil {
			ep.EventTypes = *p.EventTypes
		}
		if p.Headers != nil {
			ep.Headers = *p.Headers
		}
		if p.Status != nil && *p.Status != ep.Status {
			ep.Status = *p.Status
			if ep.Status == store.EndpointDisabled {
				ep.DisabledReason = adminDisabled
			} else {
				// A fresh start: an endpoint disabled for failing would
				// otherwise be disabled again by its next failure.
				ep.DisabledReason, ep.EnabledAt = "", now
				ep.Health.ConsecutiveFailures, ep.Health.FailingSince = 0, time.Time{}
			}
		}
		ep.UpdatedAt = now
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(h.w, http.StatusOK, endpointJSON(ep))
}

func (h adminHandler) deleteEndpoint(id string) error {
	now := time.Now()
	ep, err := h.update(id, func(ep *store.Endpoint) error {
		if ep.Static {
			return errStatic(id)
		}
		if ep.Status != store.EndpointDeleted {
			ep.Status, ep.DisabledReason, ep.UpdatedAt = store.EndpointDeleted, "", now
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(h.w, http.StatusOK, endpointJSON(ep))
}

// testEventType is the type of the event that the test route sends.
const testEventType = "webhook.test"

func (h adminHandler) testEndpoint(id string) error {
	ep, err := h.endpoint(id)
	if err != nil {
		return err
	}
	if ep.Status != store.EndpointActive {
		return errorf(http.StatusConflict, "endpoint_not_active", "endpoint %s is %s", id, ep.Status)
	}
	now := time.Now()
	data, _ := json.Marshal(map[string]string{"endpoint_id": ep.ID, "message": "a test event sent through the Hookguard admin API"})
	ev := store.Event{ID: delivery.NewEventID(), Type: testEventType, Created: now, Data: data}
	ds := []store.Delivery{{ID: delivery.NewDeliveryID(), EventID: ev.ID, EndpointID: ep.ID,
		Status: store.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}}
	ev, ds, _, err = h.st.CreateEvent(h.r.Context(), ev, ds, h.app.dispatch.retention)
	if err != nil {
		return fmt.Errorf("storing test event: %w", err)
	}
	h.app.wakeWorkers()
	return writeJSON(h.w, http.StatusAccepted, eventJSON(ev, ds))
}

func (h adminHandler) rotate(id string) error {
	if se := h.app.staticEndpoint(id); se != nil && se.Secret != "" {
		return errorf(http.StatusConflict, "static_secret",
			"endpoint %s takes its secret from the config; change it there", id)
	}
	now := time.Now()
	expires := now.Add(time.Duration(h.app.Dispatch.RotationOverlap))
	secret := delivery.NewSigningSecret()
	var previous time.Time
	_, err := h.update(id, func(ep *store.Endpoint) error {
		if ep.Status == store.EndpointDeleted {
			return errorf(http.StatusConflict, "endpoint_deleted", "endpoint %s is deleted", id)
		}
		secrets := []store.EndpointSecret{{Value: secret, CreatedAt: now}}
		previous = time.Time{}
		for i, s := range ep.Secrets {
			if !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt) {
				continue // expired: it no longer signs
			}
			if i == 0 && (s.ExpiresAt.IsZero() || s.ExpiresAt.After(expires)) {
				s.ExpiresAt = expires
			}
			if i == 0 {
				previous = s.ExpiresAt
			}
			secrets = append(secrets, s)
		}
		ep.Secrets, ep.UpdatedAt = secrets, now
		return nil
	})
	if err != nil {
		return err
	}
	out := map[string]any{"object": "rotation", "endpoint_id": id, "signing_secret": secret, "previous_expires_at": nil}
	if !previous.IsZero() {
		out["previous_expires_at"] = previous
	}
	return writeJSON(h.w, http.StatusCreated, out)
}

// staticEndpoint returns the config's endpoint with this ID, if any.
func (a *App) staticEndpoint(id string) *StaticEndpoint {
	for i := range a.Endpoints {
		if delivery.StaticEndpointID(a.Endpoints[i].Name) == id {
			return &a.Endpoints[i]
		}
	}
	return nil
}

// createEvent is the webhook_dispatch intake on the admin endpoint.
func (h adminHandler) createEvent() error {
	err := h.app.intake(h.w, h.r)
	var ie *delivery.IntakeError
	if errors.As(err, &ie) {
		return errorf(intakeStatus(ie), ie.Code, "%s", ie.Message)
	}
	return err
}

// Limits of an event listing.
const (
	defaultListLimit = 50
	maxListLimit     = 200
)

var deliveryStatuses = []string{store.DeliveryPending, store.DeliveryDelivering, store.DeliverySucceeded,
	store.DeliveryFailed, store.DeliverySkipped}

func (h adminHandler) listEvents() error {
	q := h.r.URL.Query()
	f := store.EventFilter{EndpointID: q.Get("endpoint_id"), Type: q.Get("type"), Status: q.Get("status"),
		After: q.Get("after"), Limit: defaultListLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			return errorf(http.StatusBadRequest, "invalid_limit", "limit must be 1 to %d", maxListLimit)
		}
		f.Limit = n
	}
	if f.Status != "" && !slices.Contains(deliveryStatuses, f.Status) {
		return errorf(http.StatusBadRequest, "invalid_status", "status must be one of %s",
			strings.Join(deliveryStatuses, ", "))
	}
	if f.After != "" && !strings.HasPrefix(f.After, delivery.EventIDPrefix) {
		return errorf(http.StatusBadRequest, "invalid_cursor", "after must be an event ID (wevt_…)")
	}
	limit := f.Limit
	f.Limit = min(limit+1, maxListLimit) // one more tells whether there is more
	evs, err := h.st.ListEvents(h.r.Context(), f)
	if err != nil {
		return fmt.Errorf("listing events: %w", err)
	}
	hasMore := len(evs) > limit
	evs = evs[:min(len(evs), limit)]
	if !hasMore && limit == maxListLimit && len(evs) == limit {
		next := f
		next.After, next.Limit = evs[len(evs)-1].ID, 1
		more, err := h.st.ListEvents(h.r.Context(), next)
		if err != nil {
			return fmt.Errorf("listing events: %w", err)
		}
		hasMore = len(more) > 0
	}
	data := make([]map[string]any, 0, len(evs))
	for _, ev := range evs {
		data = append(data, eventSummaryJSON(ev))
	}
	out := map[string]any{"object": "list", "data": data, "has_more": hasMore}
	if hasMore {
		out["next_after"] = evs[len(evs)-1].ID
	}
	return writeJSON(h.w, http.StatusOK, out)
}

func (h adminHandler) getEvent(id string) error {
	ev, ds, err := h.st.GetEvent(h.r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", "no event %q", id)
	}
	if err != nil {
		return fmt.Errorf("getting event: %w", err)
	}
	whd := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		whd = append(whd, deliveryJSON(d))
	}
	return writeJSON(h.w, http.StatusOK, struct {
		eventView
		Data              json.RawMessage  `json:"data"`
		WebhookDeliveries []map[string]any `json:"webhook_deliveries"`
	}{eventJSON(ev, ds), ev.Data, whd})
}

// delivery returns the stored delivery, or not_found.
func (h adminHandler) delivery(id string) (store.Delivery, error) {
	d, err := h.st.GetDelivery(h.r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return d, errorf(http.StatusNotFound, "not_found", "no delivery %q", id)
	}
	return d, err
}

func (h adminHandler) getDelivery(id string) error {
	d, err := h.delivery(id)
	if err != nil {
		return err
	}
	return writeJSON(h.w, http.StatusOK, deliveryJSON(d))
}

// errInFlight refuses to retry a delivery a worker holds.
var errInFlight = &apiError{http.StatusConflict, "delivery_in_flight", "a worker is attempting this delivery now; try again once it is done"}

func (h adminHandler) retry(id string) error {
	d, err := h.delivery(id)
	if err != nil {
		return err
	}
	now := time.Now()
	if d.Status == store.DeliveryDelivering && now.Before(d.LeaseUntil) {
		return errInFlight
	}
	d.Status, d.NextAttemptAt, d.UpdatedAt, d.RetriedAt = store.DeliveryPending, now, now, now
	d.LeaseToken, d.LeaseUntil = "", time.Time{}
	switch err := h.st.UpdateDelivery(h.r.Context(), d, ""); {
	case errors.Is(err, store.ErrNotOwner):
		return errInFlight
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "not_found", "no delivery %q", id)
	case err != nil:
		return fmt.Errorf("retrying delivery: %w", err)
	}
	h.app.wakeWorkers()
	return writeJSON(h.w, http.StatusAccepted, deliveryJSON(d))
}

// endpointJSON is an endpoint as the admin API shows it: never a secret,
// only the hint of the newest one.
func endpointJSON(ep store.Endpoint) map[string]any {
	types := ep.EventTypes
	if types == nil {
		types = []string{}
	}
	hint := ""
	if len(ep.Secrets) > 0 {
		hint = delivery.SecretHint(ep.Secrets[0].Value)
	}
	return map[string]any{"id": ep.ID, "object": "endpoint", "name": ep.Name, "url": ep.URL,
		"event_types": types, "scheme": ep.Scheme, "headers": headersJSON(ep.Headers), "status": ep.Status,
		"disabled_reason": ep.DisabledReason, "static": ep.Static, "secret_hint": hint, "health": ep.Health,
		"created_at": ep.CreatedAt, "updated_at": ep.UpdatedAt}
}

// headersJSON shows an endpoint's extra headers, with the values of those
// that carry credentials reduced to a hint.
func headersJSON(headers map[string]string) map[string]string {
	out := make(map[string]string, len(headers))
	for k, v := range headers {
		if sensitiveHeader(k) {
			v = delivery.SecretHint(v)
		}
		out[k] = v
	}
	return out
}

func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	if n == "cookie" {
		return true
	}
	return strings.Contains(n, "auth") || strings.Contains(n, "token") || strings.Contains(n, "secret") ||
		strings.Contains(n, "key") || strings.Contains(n, "password")
}

// eventSummaryJSON is an event as a listing shows it, without its data.
func eventSummaryJSON(ev store.Event) map[string]any {
	out := map[string]any{"id": ev.ID, "object": "event", "type": ev.Type, "created": ev.Created.Unix()}
	if len(ev.Subject) > 0 {
		out["subject"] = ev.Subject
	}
	return out
}

// deliveryJSON is a delivery as the admin API shows it: the outcome of its
// last attempt and how many there were.
func deliveryJSON(d store.Delivery) map[string]any {
	out := map[string]any{"id": d.ID, "object": "delivery", "event_id": d.EventID, "endpoint_id": d.EndpointID,
		"status": d.Status, "attempts": len(d.Attempts), "response_status": nil, "response_body": nil,
		"error": nil, "next_attempt_at": nil, "created_at": d.CreatedAt, "updated_at": d.UpdatedAt, "retried_at": nil}
	if n := len(d.Attempts); n > 0 {
		last := d.Attempts[n-1]
		if last.ResponseStatus != 0 {
			out["response_status"] = last.ResponseStatus
			out["response_body"] = last.ResponseBody
		}
		if last.Error != "" {
			out["error"] = last.Error
		}
	}
	if d.Status == store.DeliveryPending && !d.NextAttemptAt.IsZero() {
		out["next_attempt_at"] = d.NextAttemptAt
	}
	if !d.RetriedAt.IsZero() {
		out["retried_at"] = d.RetriedAt
	}
	return out
}

// Interface guards
var (
	_ caddy.AdminRouter = (*AdminAPI)(nil)
	_ caddy.Provisioner = (*AdminAPI)(nil)
)
