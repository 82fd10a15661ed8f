package store

import (
	"errors"
	"sync"
	"time"
)

// errGroupClosed is the result of work handed to a closed group.
var errGroupClosed = errors.New("store: writer stopped")

// group is group commit: one goroutine runs apply on everything queued
// while its previous run was under way, in queue order, and hands each
// item the result. Concurrent callers so share one transaction or one
// fsync instead of paying for their own.
//
// Under load a run would take only what arrived during the one before, a
// few items when apply is quick. With linger set, a run that follows one
// of more than one item first waits that long for more to arrive, so that
// each run serves more items; once a run has served a single item, the
// next does not wait, so a caller after a quiet spell never does.
type group[T any] struct {
	apply  func([]T) error
	linger time.Duration

	mu      sync.Mutex
	pending []T
	results []func(error)
	closed  bool
	kick    chan struct{} // has a value when pending may be non-empty
	done    chan struct{} // closed when run has returned
}

func newGroup[T any](apply func([]T) error, linger time.Duration) *group[T] {
	g := &group[T]{apply: apply, linger: linger, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go g.run()
	return g
}

// queue adds item to the next run and returns where its result arrives.
func (g *group[T]) queue(item T) <-chan error {
	res := make(chan error, 1)
	if err := g.queueFunc(item, func(err error) { res <- err }); err != nil {
		res <- err
	}
	return res
}

// queueFunc adds item to the next run, which calls done with its result
// on the group's goroutine, so done must not block for long. On a closed
// group it returns errGroupClosed and never calls done.
func (g *group[T]) queueFunc(item T, done func(error)) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return errGroupClosed
	}
	g.pending = append(g.pending, item)
	g.results = append(g.results, done)
	g.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default:
	}
	return nil
}

// run applies batches until close has been called and nothing is pending.
func (g *group[T]) run() {
	defer close(g.done)
	var (
		batch   []T
		results []func(error)
		busy    bool // the last run had more than one item
	)
	for range g.kick {
		if busy && g.linger > 0 {
			time.Sleep(g.linger)
		}
		g.mu.Lock()
		batch, g.pending = g.pending, batch[:0]
		results, g.results = g.results, results[:0]
		closed := g.closed
		g.mu.Unlock()
		busy = len(batch) > 1
		if len(batch) > 0 {
			err := g.apply(batch)
			for _, done := range results {
				done(err)
			}
			clear(batch)
			clear(results)
		}
		if closed {
			return
		}
	}
}

// close runs what is pending and stops; work queued after it fails.
func (g *group[T]) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default:
	}
	<-g.done
}
