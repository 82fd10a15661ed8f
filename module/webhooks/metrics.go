package webhooks

import (
	"errors"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookguard/hookguard/module/delivery"
)

// Outbound collectors, created once per process and registered on each
// config's registry, so counts carry across reloads. Labels are endpoint
// names and outcomes, never IDs.
var (
	attemptsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "hookguard",
		Subsystem: "dispatch",
		Name:      "attempts_total",
		Help:      "Outbound delivery attempts by endpoint and outcome: succeeded, retry, failed, disable_endpoint.",
	}, []string{"endpoint", "outcome"})
	attemptDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "hookguard",
		Subsystem: "dispatch",
		Name:      "attempt_duration_seconds",
		Help:      "Time an outbound delivery attempt took, answer included.",
		Buckets:   prometheus.DefBuckets,
	}, []string{"endpoint"})
)

// registerMetrics registers the collectors on reg, tolerating a registry
// that has them already.
func registerMetrics(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{attemptsTotal, attemptDuration} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// observeAttempt records one attempt.
func observeAttempt(endpoint string, o delivery.Outcome, d time.Duration) {
	attemptsTotal.WithLabelValues(endpoint, o.String()).Inc()
	attemptDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// version is Hookguard's module version in this build, or "dev".
func version() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range append(info.Deps, &info.Main) {
			if m.Path == "github.com/hookguard/hookguard" && m.Version != "" && m.Version != "(devel)" {
				return m.Version
			}
		}
	}
	return "dev"
}
