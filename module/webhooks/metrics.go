package webhooks

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookguard/hookguard/module/delivery"
	hgmetrics "github.com/hookguard/hookguard/module/metrics"
	"github.com/hookguard/hookguard/module/store"
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
	deliveriesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "hookguard",
		Subsystem: "dispatch",
		Name:      "deliveries_total",
		Help:      "Outbound deliveries that reached a final status, by endpoint and status: succeeded, failed, skipped.",
	}, []string{"endpoint", "status"})
	queueDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "hookguard",
		Subsystem: "dispatch",
		Name:      "queue_depth",
		Help:      "Deliveries waiting: due now, or scheduled for a later attempt.",
	}, []string{"state"})
	consecutiveFailures = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "hookguard",
		Subsystem: "dispatch",
		Name:      "endpoint_consecutive_failures",
		Help:      "Failed attempts in a row, per endpoint.",
	}, []string{"endpoint"})
	attemptDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "hookguard",
		Subsystem: "dispatch",
		Name:      "attempt_duration_seconds",
		Help:      "Time an outbound delivery attempt took, answer included.",
		Buckets:   prometheus.DefBuckets,
	}, []string{"endpoint"})
)

// registerMetrics registers the outbound collectors on reg.
func registerMetrics(reg prometheus.Registerer) error {
	return hgmetrics.Register(reg, attemptsTotal, attemptDuration, deliveriesTotal, queueDepth, consecutiveFailures)
}

// observeAttempt records one attempt.
func observeAttempt(endpoint string, o delivery.Outcome, d time.Duration) {
	attemptsTotal.WithLabelValues(endpoint, o.String()).Inc()
	attemptDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// observeSettled counts a delivery that reached a final status.
func observeSettled(endpoint, status string) {
	deliveriesTotal.WithLabelValues(endpoint, status).Inc()
}

// gaugeInterval is how often the queue and endpoint gauges are refreshed.
const gaugeInterval = 5 * time.Second

// watchGauges refreshes the queue depth and per-endpoint failure gauges
// until ctx ends.
func (a *App) watchGauges(ctx context.Context) {
	t := time.NewTicker(gaugeInterval)
	defer t.Stop()
	for {
		st := a.Store()
		if st != nil {
			if due, scheduled, err := st.QueueDepth(ctx, time.Now()); err == nil {
				queueDepth.WithLabelValues("due").Set(float64(due))
				queueDepth.WithLabelValues("scheduled").Set(float64(scheduled))
			}
			if eps, err := st.ListEndpoints(ctx); err == nil {
				a.healStaticEndpoints(ctx, eps)
				for _, ep := range eps {
					if ep.Status == store.EndpointDeleted {
						consecutiveFailures.DeleteLabelValues(ep.Name)
						continue
					}
					consecutiveFailures.WithLabelValues(ep.Name).Set(float64(ep.Health.ConsecutiveFailures))
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
