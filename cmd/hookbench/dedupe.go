package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookguard/hookguard/module/store"
)

type dedupeOptions struct {
	// Keys is how many done records the store holds when measured full.
	Keys int
	// Samples is how many claims each measurement times.
	Samples int
	// Concurrency is how many claimers fill the store.
	Concurrency int
	// Settle is the pause between filling and measuring, in which Badger
	// compacts what the fill wrote at full speed.
	Settle time.Duration
}

// dedupeReport compares a claim (Reserve, then Commit of its done record)
// on an empty store with one on a store holding Keys done records.
type dedupeReport struct {
	Keys        int          `json:"keys"`
	Empty       claimLatency `json:"empty"`
	Full        claimLatency `json:"full"`
	P99Ratio    float64      `json:"p99_ratio"`
	FillSeconds float64      `json:"fill_seconds"`
	DiskMB      float64      `json:"disk_mb"`
	// BytesPerKey is the disk used per stored key.
	BytesPerKey float64 `json:"bytes_per_key"`
}

type claimLatency struct {
	P50us float64 `json:"reserve_p50_us"`
	P99us float64 `json:"reserve_p99_us"`
}

func (r dedupeReport) print(w io.Writer) {
	fmt.Fprintf(w, "reserve on an empty store: p50 %.1f us, p99 %.1f us\n", r.Empty.P50us, r.Empty.P99us)
	fmt.Fprintf(w, "reserve with %d keys stored: p50 %.1f us, p99 %.1f us\n", r.Keys, r.Full.P50us, r.Full.P99us)
	fmt.Fprintf(w, "p99 full/empty: %.2f\n", r.P99Ratio)
	fmt.Fprintf(w, "filled in %.0f s; disk %.0f MB, %.0f bytes per key\n", r.FillSeconds, r.DiskMB, r.BytesPerKey)
}

// runDedupe measures the Badger dedupe store in this process, without
// Caddy: claims timed on an empty store, then the store filled with done
// records and left to settle, then claims timed again.
func runDedupe(o dedupeOptions) (dedupeReport, error) {
	rep := dedupeReport{Keys: o.Keys}
	if o.Keys < o.Samples || o.Samples < 1 || o.Concurrency < 1 {
		return rep, fmt.Errorf("-keys must be at least -samples, and both and -c at least 1")
	}
	dir, err := os.MkdirTemp("", "hookbench-dedupe-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	db, err := store.OpenBadger(dir, store.BadgerOptions{})
	if err != nil {
		return rep, err
	}
	defer db.Close()

	var n atomic.Int64
	claim := func() (time.Duration, error) {
		key := "evt_" + strconv.FormatInt(n.Add(1), 10)
		ctx := context.Background()
		t0 := time.Now()
		_, owned, err := db.Reserve(ctx, key, "t", time.Minute)
		took := time.Since(t0)
		if err != nil || !owned {
			return 0, fmt.Errorf("reserving %s: owned=%v err=%v", key, owned, err)
		}
		return took, db.Commit(ctx, key, "t", store.Response{Status: 200, Body: []byte(`{"ok":true}`)}, 24*time.Hour)
	}
	// Claims are timed one at a time, so that the figures show the store
	// rather than the scheduler.
	if rep.Empty, err = timeClaims(claim, o.Samples, 1); err != nil {
		return rep, err
	}
	start := time.Now()
	if err := parallel(o.Keys-2*o.Samples, o.Concurrency, func() error { _, err := claim(); return err }); err != nil {
		return rep, err
	}
	rep.FillSeconds = time.Since(start).Seconds()
	time.Sleep(o.Settle)
	if rep.Full, err = timeClaims(claim, o.Samples, 1); err != nil {
		return rep, err
	}
	if rep.Empty.P99us > 0 {
		rep.P99Ratio = rep.Full.P99us / rep.Empty.P99us
	}
	size, err := dirSize(dir)
	if err != nil {
		return rep, err
	}
	rep.DiskMB = float64(size) / (1 << 20)
	rep.BytesPerKey = float64(size) / float64(o.Keys)
	return rep, nil
}

// timeClaims runs claim samples times on c goroutines and returns the
// latency quantiles.
func timeClaims(claim func() (time.Duration, error), samples, c int) (claimLatency, error) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, samples)
	err := parallel(samples, c, func() error {
		d, err := claim()
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		return err
	})
	slices.Sort(lat)
	us := func(q float64) float64 { return quantile(lat, q) * 1000 }
	return claimLatency{P50us: us(0.50), P99us: us(0.99)}, err
}

// parallel runs fn n times on c goroutines and returns the first error.
func parallel(n, c int, fn func() error) error {
	var (
		next     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && firstErr.Load() == nil {
				if err := fn(); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

// dirSize sums the sizes of the files under dir.
func dirSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			size += info.Size()
		}
		return err
	})
	return size, err
}
