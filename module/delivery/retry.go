// Package delivery is Hookguard's outbound engine: the event envelope and
// intake validation, the retry schedule and outcome rules, ID generation, the
// SSRF-safe HTTP client, and the worker loop over the store interface.
//
// The package knows nothing of Caddy; the webhooks app is thin glue over it.
package delivery

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Schedule is the retry policy of one dispatcher: how many attempts a
// delivery gets and how long to wait between them.
type Schedule struct {
	// Attempts is the total number of attempts, the first try included. It
	// must be at least 1; 1 means no retries.
	Attempts int

	// Backoff holds the waits between attempts: Backoff[0] follows the first
	// attempt, Backoff[1] the second, and so on. The last value repeats when
	// there are more retries than values. It must not be empty, and every
	// value must be positive.
	Backoff []time.Duration

	// Jitter spreads each wait uniformly over ±Jitter of its nominal value,
	// so that endpoints recovering from an outage are not hit by every
	// delivery at once. 0.10 means ±10%. It must lie in [0, 1).
	Jitter float64
}

// DefaultSchedule returns the default policy: 5 attempts (the first try
// included), waits of 1m, 5m, 30m and 2h, and ±10% jitter.
func DefaultSchedule() Schedule {
	return Schedule{
		Attempts: 5,
		Backoff:  []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour},
		Jitter:   0.10,
	}
}

// Validate reports whether the schedule is usable. It has no side effects.
func (s Schedule) Validate() error {
	if s.Attempts < 1 {
		return fmt.Errorf("attempts must be at least 1, got %d", s.Attempts)
	}
	if len(s.Backoff) == 0 {
		return errors.New("backoff needs at least one duration")
	}
	for i, d := range s.Backoff {
		if d <= 0 {
			return fmt.Errorf("backoff value %d (%s) must be positive", i+1, d)
		}
	}
	if !(s.Jitter >= 0 && s.Jitter < 1) { // also refuses NaN
		return fmt.Errorf("jitter must be in [0, 1), got %v", s.Jitter)
	}
	return nil
}

// MaxBackoff returns the longest configured wait, which also caps a
// Retry-After hint. It is 0 for an empty Backoff.
func (s Schedule) MaxBackoff() time.Duration {
	var longest time.Duration
	for _, d := range s.Backoff {
		longest = max(longest, d)
	}
	return longest
}

// Next says whether another attempt is allowed after attempt attempts have
// been made (1-based: pass 1 after the first try fails), and how long to wait
// before it.
//
// ok is false once attempt >= Attempts; wait is then 0. Otherwise:
//
//   - if retryAfter > 0 (the endpoint's Retry-After, see ParseRetryAfter),
//     the wait is retryAfter, capped at MaxBackoff. The endpoint asked for
//     that delay, so it is neither jittered nor lengthened to the backoff;
//     the cap stops an endpoint from parking a delivery indefinitely;
//   - otherwise the wait is Backoff[min(attempt-1, len(Backoff)-1)] scaled by
//     1 - Jitter + 2·Jitter·rnd(), a factor in [1-Jitter, 1+Jitter).
//
// rnd returns a number in [0, 1), as math/rand/v2.Float64 does; nil uses
// math/rand/v2. Tests inject a fixed value. An attempt below 1 is treated as
// 1. Next expects a schedule that passed Validate; on an empty Backoff it
// reports ok = false.
func (s Schedule) Next(attempt int, retryAfter time.Duration, rnd func() float64) (wait time.Duration, ok bool) {
	attempt = max(attempt, 1)
	if attempt >= s.Attempts || len(s.Backoff) == 0 {
		return 0, false
	}
	if retryAfter > 0 {
		return min(retryAfter, s.MaxBackoff()), true
	}
	base := s.Backoff[min(attempt-1, len(s.Backoff)-1)]
	if s.Jitter <= 0 || math.IsNaN(s.Jitter) {
		return base, true
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	r := rnd()
	if !(r >= 0) { // negative or NaN
		r = 0
	} else if r >= 1 {
		r = math.Nextafter(1, 0)
	}
	factor := 1 - s.Jitter + 2*s.Jitter*r
	scaled := float64(base) * factor
	if scaled >= math.MaxInt64 {
		return time.Duration(math.MaxInt64), true
	}
	return max(time.Duration(scaled), 1), true
}

// Decide folds an attempt's Outcome (from Classify) into the schedule: a
// Retry for which Next allows no further attempt becomes Failed. wait is the
// delay before the next attempt and is non-zero only when the result is
// Retry. Succeeded and DisableEndpoint pass through unchanged.
func (s Schedule) Decide(attempt int, o Outcome, retryAfter time.Duration, rnd func() float64) (Outcome, time.Duration) {
	if o != Retry {
		return o, 0
	}
	wait, ok := s.Next(attempt, retryAfter, rnd)
	if !ok {
		return Failed, 0
	}
	return Retry, wait
}

// Outcome is what one delivery attempt means for the delivery.
type Outcome int

// The outcomes of an attempt. Classify returns Succeeded, Retry or
// DisableEndpoint; Failed is never returned by Classify, but is what Decide
// turns a Retry into once the schedule allows no further attempt, so that a
// worker can switch on one type for the delivery's final state.
const (
	// Succeeded means the endpoint answered 2xx. The delivery is done and is
	// never attempted again.
	Succeeded Outcome = iota + 1

	// Retry means the attempt failed in a way that may pass later: any
	// status other than 2xx and 410 (3xx included, since redirects are never
	// followed), a transport error or a timeout.
	Retry

	// Failed means the delivery has used up its attempts.
	Failed

	// DisableEndpoint means the endpoint answered 410 Gone: it asked not to
	// receive any more events. The worker disables the endpoint (its pending
	// deliveries become skipped) and records this delivery as failed,
	// without further attempts.
	DisableEndpoint
)

// String returns the outcome's stable lowercase name, usable as a log field
// or a bounded metric label.
func (o Outcome) String() string {
	switch o {
	case Succeeded:
		return "succeeded"
	case Retry:
		return "retry"
	case Failed:
		return "failed"
	case DisableEndpoint:
		return "disable_endpoint"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Classify maps one attempt's result to its Outcome. err is the transport
// error (connection refused, TLS failure, SSRF refusal, timeout); when it is
// non-nil the status is ignored and the outcome is Retry. Otherwise a 2xx is
// Succeeded, 410 is DisableEndpoint, and every other status (1xx, 3xx, 4xx
// including 429, 5xx, or 0 for no response) is Retry. Classify never returns
// Failed; see Decide.
//
// A worker that is shutting down should check its own context before
// classifying: an attempt cut short by shutdown is not the endpoint's fault.
func Classify(status int, err error) Outcome {
	switch {
	case err != nil:
		return Retry
	case status >= 200 && status <= 299:
		return Succeeded
	case status == http.StatusGone:
		return DisableEndpoint
	default:
		return Retry
	}
}

// Throttles reports whether an answer with status asks the sender to slow
// down (429, and 502 to 504 from an overloaded endpoint or its proxy):
// then no delivery to the endpoint is attempted before the retry of the
// one that got it.
func Throttles(status int) bool {
	return status == http.StatusTooManyRequests ||
		status >= http.StatusBadGateway && status <= http.StatusGatewayTimeout
}

// ParseRetryAfter interprets a Retry-After header value (RFC 9110 §10.2.3)
// received at now: either delta-seconds (digits only) or an HTTP-date. It
// returns 0, meaning "no hint", for an empty, invalid or negative value and
// for a date that is not in the future. A value too large for a
// time.Duration clamps to the largest Duration instead of overflowing;
// Schedule.Next caps it at the longest backoff anyway.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if isDigits(h) {
		secs, err := strconv.ParseInt(h, 10, 64)
		if err != nil || secs > math.MaxInt64/int64(time.Second) {
			return time.Duration(math.MaxInt64) // only digits, so the error is ErrRange
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0
	}
	return max(t.Sub(now), 0) // Sub saturates rather than overflowing
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
