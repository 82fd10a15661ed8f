// Package verify is the `webhook_verify` HTTP handler: it verifies an
// inbound webhook's signature and timestamp, drops duplicate deliveries,
// and only then passes the request on, byte for byte, to the next handler
// (usually `reverse_proxy`).
package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hookguard/hookguard/module/signature"
	"github.com/hookguard/hookguard/module/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults, in the units their fields take.
const (
	defaultScheme    = "standard"
	defaultTolerance = 5 * time.Minute
	defaultDedupe    = 96 * time.Hour // past Stripe's 3 days of retries
	defaultLease     = 30 * time.Second
	defaultMaxBody   = 10 << 20
	defaultReplayMax = 64 << 10
)

// now is the handler's clock; tests replace it.
var now = time.Now

// Handler verifies inbound webhooks. It checks the signature against every
// configured secret (so secrets can be rotated), enforces the timestamp
// window, and claims the event ID in the webhooks app's store so that a
// duplicate delivery is never forwarded twice. Only a verified, new request
// reaches the next handler, with its body unchanged.
//
// A duplicate of an event that was answered 2xx gets that stored answer
// again, with `Webhook-Duplicate: true`, and is not forwarded. A duplicate
// of an event still in flight gets 409 with `Retry-After`.
//
// Errors are returned as `caddyhttp.Error`, so `handle_errors` can shape
// them. Without `handle_errors`, the handler answers with a JSON body
// `{"error":"<code>","message":"…"}`.
//
// Placeholders it sets, for the handlers after it and for logs:
//
// Placeholder | Description
// ------------|-------------
// `{http.webhook.scheme}` | The scheme that verified the request
// `{http.webhook.id}` | The signed event ID, empty if the scheme has none
// `{http.webhook.timestamp}` | The signed timestamp, in Unix seconds
// `{http.webhook.secret}` | The fingerprint of the matching secret, never its value
// `{http.webhook.duplicate}` | `true` for a replayed duplicate, else `false`
// `{http.webhook.error}` | The error code of a refused request
type Handler struct {
	// Scheme is the signature scheme: a preset such as `standard`,
	// `stripe` or `github`, or `hmac` for the generic scheme configured by
	// HMAC. Default: `standard`.
	Scheme string `json:"scheme,omitempty"`

	// Secrets are tried in order; any match verifies. Listing the new and
	// the old secret rotates without downtime. Values may be placeholders
	// such as `{env.STRIPE_SECRET}` or `{file./run/secrets/stripe}`,
	// resolved once when the config loads.
	Secrets []Secret `json:"secrets,omitempty"`

	// Tolerance is how far the signed timestamp may be from the clock, in
	// either direction. Default: the preset's recommended tolerance (see
	// `caddy webhook presets`), else 5m.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`

	// Dedupe is how long an answered event ID is remembered. It must be at
	// least twice the tolerance. Default: 96h.
	Dedupe caddy.Duration `json:"dedupe,omitempty"`

	// DisableDedupe forwards every verified request, duplicates included.
	DisableDedupe bool `json:"disable_dedupe,omitempty"`

	// Lease is how long an in-flight claim lasts if its holder dies. A
	// live holder renews it while the upstream is answering. Default: 30s.
	Lease caddy.Duration `json:"lease,omitempty"`

	// MaxBody is the largest body accepted, in bytes; larger gets 413
	// before any hashing. Default: 10 MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// ReplayMax is how many bytes of the upstream's 2xx response body are
	// kept to answer duplicates with. Default: 64 KiB.
	ReplayMax int64 `json:"replay_max,omitempty"`

	// HMAC configures the generic `hmac` scheme. Only for scheme `hmac`.
	HMAC *HMAC `json:"hmac,omitempty"`

	scheme  *signature.Scheme
	secrets []activeSecret
	stores  storeSource
	leases  *leases
	logger  *zap.Logger
	metrics *metrics
}

// storeSource is the webhooks app, as the handler sees it: the store
// opens when the app starts, after handlers are provisioned, so the
// handler asks for it per request. Nil means it could not be opened.
type storeSource interface {
	Store() store.Store
}

// Secret is one signing secret.
type Secret struct {
	// Value is the secret, in the form its provider hands it out
	// (`whsec_…`, a hex public key for discord, …). Placeholders allowed.
	Value string `json:"value"`
	// NotAfter retires the secret: from this instant on it no longer
	// verifies. Optional.
	NotAfter time.Time `json:"not_after,omitzero"`
}

// HMAC is the generic scheme's configuration.
type HMAC struct {
	// SignatureHeader holds the signature. Required.
	SignatureHeader string `json:"signature_header,omitempty"`
	// TimestampHeader holds a Unix timestamp in seconds. Optional.
	TimestampHeader string `json:"timestamp_header,omitempty"`
	// IDHeader holds the event ID; it must appear as {id} in
	// SignedPayload, so that it is signed.
	IDHeader string `json:"id_header,omitempty"`
	// IDField is a dotted JSON path to the event ID in the body.
	IDField string `json:"id_field,omitempty"`
	// SignedPayload is the signed content, a template over {id},
	// {timestamp}, {body}, {method} and {url}. Default: `{body}`.
	SignedPayload string `json:"signed_payload,omitempty"`
	// Algorithm is sha1, sha256 or sha512. Default: sha256.
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding is hex or base64. Default: hex.
	Encoding string `json:"encoding,omitempty"`
	// Prefix precedes the encoded signature, e.g. `sha256=`.
	Prefix string `json:"prefix,omitempty"`
	// SecretEncoding is raw, base64 (a `whsec_` prefix is stripped first)
	// or hex. Default: raw.
	SecretEncoding string `json:"secret_encoding,omitempty"`
}

// activeSecret is a decoded secret with its retirement time.
type activeSecret struct {
	signature.Secret
	notAfter time.Time
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.webhook_verify",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets defaults, decodes the secrets and gets the store.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := h.provisionScheme(); err != nil {
		return err
	}
	var err error
	h.metrics, err = registerMetrics(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	if !h.DisableDedupe {
		app, err := ctx.App("webhooks")
		if err != nil {
			return fmt.Errorf("getting webhooks app for its store: %w", err)
		}
		stores, ok := app.(storeSource)
		if !ok {
			return fmt.Errorf("webhooks app %T has no store", app)
		}
		h.stores = stores
	}
	return nil
}

// provisionScheme sets defaults and resolves the scheme and secrets: the
// part of provisioning that needs no Caddy context.
func (h *Handler) provisionScheme() error {
	if h.Scheme == "" {
		h.Scheme = defaultScheme
	}
	if h.Dedupe == 0 {
		h.Dedupe = caddy.Duration(defaultDedupe)
	}
	if h.Lease == 0 {
		h.Lease = caddy.Duration(defaultLease)
	}
	if h.MaxBody == 0 {
		h.MaxBody = defaultMaxBody
	}
	if h.ReplayMax == 0 {
		h.ReplayMax = defaultReplayMax
	}
	scheme, err := h.HMAC.scheme(h.Scheme)
	if err != nil {
		return err
	}
	h.scheme = scheme
	h.leases = newLeases(time.Duration(h.Lease), func(err error) {
		h.metrics.storeErrors.WithLabelValues("extend").Inc()
		h.logger.Warn("renewing webhook lease", zap.String("scheme", h.Scheme), zap.Error(err))
	})
	if h.Tolerance == 0 {
		h.Tolerance = caddy.Duration(schemeTolerance(scheme))
	}
	if len(h.Secrets) == 0 {
		return errors.New("at least one secret is required")
	}
	repl := caddy.NewReplacer()
	for i, s := range h.Secrets {
		value, err := repl.ReplaceOrErr(s.Value, true, true)
		if err != nil {
			return fmt.Errorf("secret %d: resolving placeholder: %w", i+1, err)
		}
		decoded, err := scheme.ParseSecret(value)
		if err != nil {
			return fmt.Errorf("secret %d: %w", i+1, err)
		}
		h.secrets = append(h.secrets, activeSecret{Secret: decoded, notAfter: s.NotAfter})
		h.logger.Debug("loaded webhook secret",
			zap.String("scheme", h.Scheme),
			zap.String("fingerprint", decoded.Fingerprint()),
			zap.Time("not_after", s.NotAfter))
	}
	return nil
}

// schemeTolerance is the tolerance used when none is configured: the
// preset's recommended one, else defaultTolerance.
func schemeTolerance(s *signature.Scheme) time.Duration {
	if d := s.DefaultTolerance(); d > 0 {
		return d
	}
	return defaultTolerance
}

// Validate checks the settings that Provision does not derive.
func (h *Handler) Validate() error {
	if !h.DisableDedupe && h.scheme.HasTimestamp() && h.Dedupe < 2*h.Tolerance {
		return fmt.Errorf("dedupe %s must be at least twice the tolerance %s, or a replay could outlive its record",
			time.Duration(h.Dedupe), time.Duration(h.Tolerance))
	}
	if h.MaxBody < 0 || h.ReplayMax < 0 || h.Tolerance < 0 || h.Lease < 0 {
		return errors.New("sizes and durations must not be negative")
	}
	return nil
}

// ServeHTTP verifies the request and, if it is new, passes it on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.webhook.scheme", h.Scheme)
	repl.Set("http.webhook.duplicate", "false")

	if r.ContentLength > h.MaxBody {
		return h.refuse(w, r, errBodyTooLarge)
	}
	body, rf := readBody(r.Body, r.ContentLength, h.MaxBody)
	if rf != nil {
		return h.refuse(w, r, rf)
	}

	start := now()
	sreq := signature.Request{Header: r.Header, Body: body, Method: r.Method, URL: requestURL(r)}
	live := h.liveSecrets(start)
	if rep, ok := h.scheme.UnsignedHandshake(sreq, live); ok {
		return h.answerHandshake(w, rep)
	}
	res, err := h.scheme.Verify(sreq, live, start, time.Duration(h.Tolerance))
	h.metrics.duration.WithLabelValues(h.Scheme).Observe(time.Since(start).Seconds())
	if err != nil {
		return h.refuse(w, r, verifyError(err))
	}
	h.metrics.requests.WithLabelValues(h.Scheme, "verified").Inc()
	repl.Set("http.webhook.id", res.ID)
	if !res.Timestamp.IsZero() {
		repl.Set("http.webhook.timestamp", strconv.FormatInt(res.Timestamp.Unix(), 10))
	}
	repl.Set("http.webhook.secret", h.secrets[res.Secret].Fingerprint())
	if rep, ok := h.scheme.SignedHandshake(sreq, res, live); ok {
		return h.answerHandshake(w, rep)
	}

	// Hand the exact bytes on, with their length.
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }

	if h.DisableDedupe {
		return next.ServeHTTP(w, r)
	}
	return h.forwardOnce(w, r, next, h.Scheme+":"+res.DedupeKey)
}

// forwardOnce claims key, forwards the request if the claim is new, and
// settles the claim by the upstream's answer.
func (h *Handler) forwardOnce(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, key string) error {
	st := h.stores.Store()
	if st == nil {
		h.metrics.storeErrors.WithLabelValues("open").Inc()
		return h.refuse(w, r, storeUnavailable(w, errors.New("store not open")))
	}
	token := newToken()
	claim, owned, err := st.Reserve(r.Context(), key, token, time.Duration(h.Lease))
	if err != nil {
		h.metrics.storeErrors.WithLabelValues("reserve").Inc()
		return h.refuse(w, r, storeUnavailable(w, err))
	}
	if !owned {
		return h.answerDuplicate(w, r, claim)
	}
	h.metrics.dedupe.WithLabelValues(h.Scheme, "new").Inc()

	// From here on the claim is ours: it must be committed or released
	// whatever happens to the client, so settle it on a context that
	// outlives the request's.
	settle := context.WithoutCancel(r.Context())
	held := h.leases.hold(st, key, token, time.Now())
	rec := newRecorder(w, h.ReplayMax)
	committed := false
	defer func() {
		h.leases.drop(held)
		if !committed {
			h.release(settle, st, key, token)
		}
	}()

	err = next.ServeHTTP(rec, r)
	resp := rec.response()
	if err != nil || resp.Status < 200 || resp.Status > 299 {
		return err
	}
	err = st.Commit(settle, key, token, resp, time.Duration(h.Dedupe))
	if err != nil {
		// The upstream accepted the event; the sender got its answer.
		// The worst case is one more forward of a retry.
		h.metrics.storeErrors.WithLabelValues("commit").Inc()
		h.logger.Warn("recording delivered webhook", zap.String("scheme", h.Scheme), zap.Error(err))
		return nil
	}
	committed = true
	return nil
}

// answerDuplicate answers a delivery whose key another one holds.
func (h *Handler) answerDuplicate(w http.ResponseWriter, r *http.Request, claim store.Claim) error {
	if claim.State == store.Done {
		h.metrics.dedupe.WithLabelValues(h.Scheme, "duplicate_done").Inc()
		repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		repl.Set("http.webhook.duplicate", "true")
		resp := claim.Response
		if resp.ContentType != "" {
			w.Header().Set("Content-Type", resp.ContentType)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(resp.Body)))
		w.Header().Set("Webhook-Duplicate", "true")
		w.WriteHeader(resp.Status)
		_, err := w.Write(resp.Body)
		return err
	}
	h.metrics.dedupe.WithLabelValues(h.Scheme, "duplicate_in_flight").Inc()
	wait := time.Second
	if d := claim.Expires.Sub(now()); d > wait {
		wait = d
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	return h.refuse(w, r, errInFlight)
}

// release gives the claim back so that the sender's retry gets through.
// Stores bound their own round trips, so ctx needs no deadline.
func (h *Handler) release(ctx context.Context, st store.Dedupe, key, token string) {
	err := st.Release(ctx, key, token)
	switch {
	case err == nil:
		h.metrics.dedupe.WithLabelValues(h.Scheme, "released").Inc()
	case errors.Is(err, store.ErrNotOwner):
		// The lease lapsed and someone else owns the key now: theirs.
	default:
		h.metrics.storeErrors.WithLabelValues("release").Inc()
		h.logger.Warn("releasing webhook claim", zap.String("scheme", h.Scheme), zap.Error(err))
	}
}

// liveSecrets returns the secrets not yet retired at t.
func (h *Handler) liveSecrets(t time.Time) []signature.Secret {
	live := make([]signature.Secret, len(h.secrets))
	for i, s := range h.secrets {
		// A retired secret keeps its index, so Result.Secret still
		// points into h.secrets, but it can no longer match.
		if s.notAfter.IsZero() || t.Before(s.notAfter) {
			live[i] = s.Secret
		}
	}
	return live
}

// refuse answers a refused request: through handle_errors if the server
// has error routes, else with a JSON body.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, rf *refusal) error {
	h.metrics.requests.WithLabelValues(h.Scheme, rf.code).Inc()
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.webhook.error", rf.code)
	if c := h.logger.Check(zapcore.DebugLevel, "refused webhook"); c != nil {
		c.Write(zap.String("scheme", h.Scheme), zap.String("code", rf.code), zap.Error(rf))
	}
	if srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok &&
		srv.Errors != nil && len(srv.Errors.Routes) > 0 {
		return caddyhttp.Error(rf.status, rf)
	}
	return writeJSONError(w, rf)
}

// newToken returns a random claim owner token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

// scheme resolves a scheme name: a preset, or the generic `hmac` scheme
// built from c. Settings for `hmac` on a preset are an error.
func (c *HMAC) scheme(name string) (*signature.Scheme, error) {
	if name == "hmac" {
		if c == nil {
			return nil, errors.New("scheme hmac needs signature_header and the other hmac settings")
		}
		s, err := signature.NewHMAC(signature.HMACConfig(*c))
		if err != nil {
			return nil, fmt.Errorf("scheme hmac: %w", err)
		}
		return s, nil
	}
	if c != nil {
		return nil, fmt.Errorf("hmac settings apply only to scheme hmac, not %q", name)
	}
	s, ok := signature.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown scheme %q (known: %s, hmac)", name, strings.Join(signature.Names(), ", "))
	}
	return s, nil
}
