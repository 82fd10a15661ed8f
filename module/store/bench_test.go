package store_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookguard/hookguard/module/store"
)

func benchStore(b *testing.B) *store.Badger {
	b.Helper()
	db, err := store.OpenBadger(b.TempDir(), store.BadgerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkDedupeClaimCommit is the store's share of one verified inbound
// webhook: a Reserve and a Commit.
func BenchmarkDedupeClaimCommit(b *testing.B) {
	resp := store.Response{Status: 200, ContentType: "application/json", Body: []byte(`{"ok":true}`)}
	ctx := context.Background()
	b.Run("sequential", func(b *testing.B) {
		db := benchStore(b)
		i := 0
		for b.Loop() {
			key := "bench:" + strconv.Itoa(i)
			i++
			if _, owned, err := db.Reserve(ctx, key, "t", time.Minute); err != nil || !owned {
				b.Fatal(owned, err)
			}
			if err := db.Commit(ctx, key, "t", resp, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		db := benchStore(b)
		var n atomic.Int64
		b.SetParallelism(16) // 32 goroutines on 2 cores, like a loaded sidecar
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := "bench:" + strconv.FormatInt(n.Add(1), 10)
				if _, owned, err := db.Reserve(ctx, key, "t", time.Minute); err != nil || !owned {
					b.Error(owned, err)
					return
				}
				if err := db.Commit(ctx, key, "t", resp, time.Hour); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkCreateEvent is outbound intake's store write (an event with two
// deliveries, synced) at 1, 8 and 32 concurrent writers.
func BenchmarkCreateEvent(b *testing.B) {
	ctx := context.Background()
	data := []byte(`{"order":"o_1","total":4200}`)
	for _, writers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db := benchStore(b)
			var n atomic.Int64
			now := time.Now()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/writers + 1
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range per {
						id := fmt.Sprintf("wevt_%02d%08d", w, i)
						seq := n.Add(1)
						ev := store.Event{ID: id, Type: "order.paid", Created: now, Data: data}
						ds := []store.Delivery{
							{ID: fmt.Sprintf("wdlv_a%010d", seq), EventID: id, EndpointID: "we_a", Status: store.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now},
							{ID: fmt.Sprintf("wdlv_b%010d", seq), EventID: id, EndpointID: "we_b", Status: store.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now},
						}
						if _, _, _, err := db.CreateEvent(ctx, ev, ds, time.Hour); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
