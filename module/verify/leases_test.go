package verify

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hookguard/hookguard/internal/wait"
	"github.com/hookguard/hookguard/module/store"
)

// extendCounter is a store that counts Extend calls and answers with err.
type extendCounter struct {
	store.Dedupe
	mu    sync.Mutex
	calls int
	err   error
}

func (e *extendCounter) Extend(context.Context, string, string, time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	return e.err
}

func (e *extendCounter) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

func (l *leases) isRunning() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running
}

// TestLeasesRenewUntilDropped: a held claim is renewed while held and not
// after it is dropped, and the goroutine ends once nothing is held.
func TestLeasesRenewUntilDropped(t *testing.T) {
	st := &extendCounter{}
	l := newLeases(60*time.Millisecond, func(err error) { t.Errorf("renewal failed: %v", err) })
	c := l.hold(st, "k", "t", time.Now())
	time.Sleep(200 * time.Millisecond)
	if n := st.count(); n < 2 {
		t.Fatalf("%d renewals in three leases, want at least 2", n)
	}
	l.drop(c)
	wait.Until(t, 5*time.Second, func() bool { return !l.isRunning() })
	n := st.count()
	time.Sleep(100 * time.Millisecond)
	if st.count() != n {
		t.Fatal("renewed after drop")
	}
}

// TestLeasesGiveUpALostClaim: a claim the store says is no longer ours is
// reported once and not renewed again.
func TestLeasesGiveUpALostClaim(t *testing.T) {
	st := &extendCounter{err: store.ErrNotOwner}
	var (
		mu       sync.Mutex
		failures []error
	)
	l := newLeases(60*time.Millisecond, func(err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	})
	l.hold(st, "k", "t", time.Now())
	wait.Until(t, 5*time.Second, func() bool { return !l.isRunning() })
	mu.Lock()
	defer mu.Unlock()
	if st.count() != 1 || len(failures) != 1 || !errors.Is(failures[0], store.ErrNotOwner) {
		t.Fatalf("%d renewals, failures %v; want one renewal and one ErrNotOwner", st.count(), failures)
	}
}
