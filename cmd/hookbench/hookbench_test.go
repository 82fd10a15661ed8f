package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMain builds Caddy once for every run of the tool here.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hookbench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	builtCaddy = filepath.Join(dir, "caddy")
	if err := buildCaddy(builtCaddy); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// A short inbound run keeps the tool from rotting: it must complete with
// requests on both routes and no errors. It asserts no timing.
func TestInboundSmoke(t *testing.T) {
	rep, err := runInbound(inboundOptions{Concurrency: 4, Duration: 300 * time.Millisecond, Rounds: 2,
		Warmup: 100 * time.Millisecond, BodyBytes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors() != 0 || len(rep.Runs) != 4 {
		t.Fatalf("report %+v", rep)
	}
	for _, run := range rep.Runs {
		if run.Requests == 0 {
			t.Fatalf("no requests on %s", run.Route)
		}
	}
	if rep.PeakRSSMB <= 0 {
		t.Fatal("no RSS read from /proc")
	}
}

// An open-loop inbound run sends exactly the requests that fall due at its
// rate, whatever the answers' pace: 100 a second for 300ms is 30 a run.
func TestInboundOpenLoopSmoke(t *testing.T) {
	rep, err := runInbound(inboundOptions{Concurrency: 4, Rate: 100, Duration: 300 * time.Millisecond, Rounds: 1,
		Warmup: 100 * time.Millisecond, BodyBytes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors() != 0 || len(rep.Runs) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, run := range rep.Runs {
		if run.Requests != 30 {
			t.Fatalf("%s route: %d requests, want the 30 due", run.Route, run.Requests)
		}
	}
}

// A short outbound run: every acknowledged event arrives, verified.
func TestOutboundSmoke(t *testing.T) {
	rep, err := runOutbound(outboundOptions{Events: 50, Concurrency: 4, Drain: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acked != 50 || rep.failures() != 0 || rep.DeliveriesPerSec <= 0 {
		t.Fatalf("report %+v", rep)
	}
}

// A small dedupe run: both measurements are taken and the disk is read.
func TestDedupeSmoke(t *testing.T) {
	rep, err := runDedupe(dedupeOptions{Keys: 3000, Samples: 500, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Empty.P99us <= 0 || rep.Full.P99us <= 0 || rep.DiskMB <= 0 {
		t.Fatalf("report %+v", rep)
	}
}
