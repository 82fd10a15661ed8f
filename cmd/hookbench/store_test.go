package main

import (
	"testing"
	"time"
)

// Both modes run against Redis too: a private redis-server that the run
// starts itself. Like the other smoke runs, these assert completion with
// no errors and nothing lost, never a timing.
func TestRedisSmoke(t *testing.T) {
	in, err := runInbound(inboundOptions{Concurrency: 4, Duration: 300 * time.Millisecond, Rounds: 1,
		Warmup: 100 * time.Millisecond, BodyBytes: 2048, Store: benchStore{Kind: "redis"}})
	if err != nil {
		t.Fatal(err)
	}
	if in.Errors() != 0 || len(in.Runs) != 2 || in.Runs[0].Requests == 0 || in.Runs[1].Requests == 0 || in.Storage != "redis" {
		t.Fatalf("inbound report %+v", in)
	}
	out, err := runOutbound(outboundOptions{Events: 50, Concurrency: 4, Drain: time.Minute, Store: benchStore{Kind: "redis"}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Acked != 50 || out.failures() != 0 || out.Storage != "redis" {
		t.Fatalf("outbound report %+v", out)
	}
}

func TestBenchStoreRefusesUnknownKind(t *testing.T) {
	s := benchStore{Kind: "etcd"}
	if err := s.start(t.TempDir()); err == nil {
		t.Fatal("-storage etcd was accepted")
	}
}
