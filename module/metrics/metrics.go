// Package metrics holds what Hookguard's modules share about Prometheus.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers collectors on reg, tolerating a registry that has
// them already: several handlers of one config register the same
// process-wide collectors, and each config has a registry of its own, so
// counts carry across reloads. A nil reg registers nothing.
func Register(reg prometheus.Registerer, collectors ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// VerifyStoreErrors counts the dedupe store operations of webhook_verify
// that failed, by operation. It lives here because two modules count into
// it: the handler, and the Badger storage, whose done records are written
// after the handler has answered.
var VerifyStoreErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "hookguard",
	Subsystem: "verify",
	Name:      "store_errors_total",
	Help:      "Dedupe store operations that failed, by operation.",
}, []string{"op"})
