// Package wait is the tests' polling loop: wait for a condition that
// another goroutine or process brings about.
package wait

import (
	"testing"
	"time"
)

// Until polls cond every 5ms until it holds, and fails the test if it
// does not within d.
func Until(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
