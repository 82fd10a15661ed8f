// Command hookbench measures what Hookguard costs, against a Caddy it
// builds from ./cmd/caddy and starts itself.
//
// The inbound mode runs one Caddy with two routes to the same trivial
// upstream, a plain reverse_proxy and webhook_verify (dedupe on, Badger)
// in front of one, and drives both with uniquely signed Standard Webhooks
// requests in alternating rounds:
//
//	go run ./cmd/hookbench inbound [-c 32] [-rate rps] [-duration 5s] [-rounds 3] [-warmup 2s] [-storage badger|redis [-redis url]] [-cpuprofile f] [-json]
//
// It prints each route's throughput and latency, the verified/plain
// throughput ratio and the p50 and p99 that webhook_verify adds. With
// -rate it offers that many requests a second (open loop) instead, so
// that latency is measured below saturation.
//
// The outbound mode POSTs events to webhook_dispatch and counts their
// arrivals at a built-in sink that verifies every signature:
//
//	go run ./cmd/hookbench outbound [-n 50000] [-c 32] [-drain 2m] [-storage badger|redis [-redis url]] [-cpuprofile f] [-json]
//
// It prints intake and end-to-end delivery rates, the intake-to-arrival
// latency, and how many events were lost or delivered twice.
//
// Both print the Caddy process's peak RSS and CPU time, and exit non-zero
// on any error or lost event. With -storage redis, Caddy keeps its store in
// Redis: the one at -redis, or a redis-server (Debian's package) that
// hookbench starts on loopback with appendfsync always.
//
// The dedupe mode measures the Badger dedupe store in process, without
// Caddy: the latency of a claim on an empty store and on one holding
// -keys done records, and the disk those records take:
//
//	go run ./cmd/hookbench dedupe [-keys 10000000] [-samples 20000] [-c 32] [-settle 30s] [-json]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	caddy := fs.String("caddy", "", "Caddy binary with Hookguard (default: build ./cmd/caddy)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	profile := fs.String("cpuprofile", "", "write a CPU profile of Caddy to this file (inbound: the measured rounds; outbound: the first 10s)")
	switch os.Args[1] {
	case "inbound":
		o := inboundOptions{}
		fs.IntVar(&o.Concurrency, "c", 32, "concurrent connections")
		fs.Float64Var(&o.Rate, "rate", 0, "open loop: send this many requests a second (over up to -c connections) instead of each connection's next as soon as it is answered")
		fs.DurationVar(&o.Duration, "duration", defaultDuration, "length of each measured run of one route")
		fs.IntVar(&o.Rounds, "rounds", 3, "rounds; each runs both routes, in alternating order")
		fs.DurationVar(&o.Warmup, "warmup", defaultWarmup, "unmeasured load on both routes before the rounds")
		fs.IntVar(&o.BodyBytes, "body", 2048, "request body size in bytes")
		o.Store.addFlags(fs)
		_ = fs.Parse(os.Args[2:])
		o.Caddy, o.Profile = *caddy, *profile
		rep, err := runInbound(o)
		finish(rep, rep.print, rep.Errors(), err, *asJSON)
	case "outbound":
		o := outboundOptions{}
		fs.IntVar(&o.Events, "n", 50000, "events to send")
		fs.IntVar(&o.Concurrency, "c", 32, "concurrent intake connections")
		fs.DurationVar(&o.Drain, "drain", 2*time.Minute, "how long to wait for deliveries after the last intake")
		o.Store.addFlags(fs)
		_ = fs.Parse(os.Args[2:])
		o.Caddy, o.Profile = *caddy, *profile
		rep, err := runOutbound(o)
		finish(rep, rep.print, rep.failures(), err, *asJSON)
	case "dedupe":
		o := dedupeOptions{}
		fs.IntVar(&o.Keys, "keys", 10_000_000, "done records in the full store")
		fs.IntVar(&o.Samples, "samples", 20000, "claims timed, one at a time, on the empty and on the full store")
		fs.IntVar(&o.Concurrency, "c", 32, "concurrent claimers filling the store")
		fs.DurationVar(&o.Settle, "settle", 30*time.Second, "pause after filling, for compaction, before measuring")
		_ = fs.Parse(os.Args[2:])
		rep, err := runDedupe(o)
		finish(rep, rep.print, 0, err, *asJSON)
	default:
		usage()
	}
}

// finish prints a report, as a table or JSON, and exits non-zero on an
// error or any failure the report counts.
func finish(report any, table func(io.Writer), failures int, err error, asJSON bool) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "hookbench:", err)
		os.Exit(1)
	}
	if asJSON {
		printJSON(os.Stdout, report)
	} else {
		table(os.Stdout)
	}
	if failures > 0 {
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: hookbench inbound|outbound|dedupe [flags]  (hookbench <mode> -h lists them)")
	os.Exit(2)
}
