package verify

import (
	"github.com/prometheus/client_golang/prometheus"

	hgmetrics "github.com/hookguard/hookguard/module/metrics"
)

// metrics are the handler's collectors. They are created once per process
// and registered on each config's registry, so counts carry across
// reloads. Labels are bounded: scheme names, result codes, outcomes and
// store operations, never IDs.
type metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	dedupe      *prometheus.CounterVec
	storeErrors *prometheus.CounterVec
}

var collectors = &metrics{
	requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "hookguard",
		Subsystem: "verify",
		Name:      "requests_total",
		Help:      "Inbound webhooks by scheme and result: verified, or the error code they were refused with.",
	}, []string{"scheme", "result"}),
	duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "hookguard",
		Subsystem: "verify",
		Name:      "duration_seconds",
		Help:      "Time spent checking an inbound webhook's signature and timestamp.",
		Buckets:   []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01},
	}, []string{"scheme"}),
	dedupe: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "hookguard",
		Subsystem: "verify",
		Name:      "dedupe_total",
		Help:      "Dedupe outcomes of verified webhooks: new, duplicate_done, duplicate_in_flight, released.",
	}, []string{"scheme", "outcome"}),
	storeErrors: hgmetrics.VerifyStoreErrors,
}

// registerMetrics registers the collectors on reg (several handlers in
// one config share them).
func registerMetrics(reg prometheus.Registerer) (*metrics, error) {
	err := hgmetrics.Register(reg, collectors.requests, collectors.duration, collectors.dedupe, collectors.storeErrors)
	return collectors, err
}
