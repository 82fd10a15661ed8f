package store

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// TestGroupLingersOnlyWhenBusy: a run after a batch of several items waits
// for more to join it; a lone item after a lone item is applied at once.
func TestGroupLingersOnlyWhenBusy(t *testing.T) {
	var (
		mu      sync.Mutex
		batches [][]int
	)
	first := make(chan struct{})
	g := newGroup(func(b []int) error {
		if b[0] == 1 {
			<-first // hold the first run while 2 and 3 queue up
		}
		mu.Lock()
		batches = append(batches, slices.Clone(b))
		mu.Unlock()
		return nil
	}, 300*time.Millisecond)
	defer g.close()

	one := g.queue(1)
	time.Sleep(20 * time.Millisecond) // the run has taken 1
	two, three := g.queue(2), g.queue(3)
	close(first)
	for _, res := range []<-chan error{one, two, three} {
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	}

	// The last run had two items: this one waits for the next to join it.
	start := time.Now()
	four, five := g.queue(4), g.queue(5)
	<-four
	<-five
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Errorf("a run after a busy one took %v, want the linger", waited)
	}

	// Now a lone item: the run after it does not wait.
	<-g.queue(6) // lingers once more, after the busy run of 4 and 5
	start = time.Now()
	<-g.queue(7)
	if waited := time.Since(start); waited > 150*time.Millisecond {
		t.Errorf("a lone item after a lone item waited %v", waited)
	}

	mu.Lock()
	defer mu.Unlock()
	want := [][]int{{1}, {2, 3}, {4, 5}, {6}, {7}}
	if !slices.EqualFunc(batches, want, slices.Equal[[]int]) {
		t.Errorf("batches %v, want %v", batches, want)
	}
}
