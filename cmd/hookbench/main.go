// Command hookbench measures what Hookguard costs. Its inbound mode runs
// one Caddy with two routes to the same trivial upstream, a plain
// reverse_proxy and webhook_verify (dedupe on, Badger) in front of one,
// and drives both with uniquely signed Standard Webhooks requests in
// alternating rounds:
//
//	go run ./cmd/hookbench inbound [-c 32] [-duration 5s] [-rounds 3] [-warmup 2s] [-json]
//
// It prints each route's throughput and latency, the verified/plain
// throughput ratio, the p99 that webhook_verify adds, and the Caddy
// process's peak RSS and CPU time.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "inbound" {
		fmt.Fprintln(os.Stderr, "usage: hookbench inbound [flags]  (hookbench inbound -h lists them)")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("inbound", flag.ExitOnError)
	var o inboundOptions
	fs.IntVar(&o.Concurrency, "c", 32, "concurrent connections")
	fs.DurationVar(&o.Duration, "duration", defaultDuration, "length of each measured run of one route")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds; each runs both routes, in alternating order")
	fs.DurationVar(&o.Warmup, "warmup", defaultWarmup, "unmeasured load on both routes before the rounds")
	fs.IntVar(&o.BodyBytes, "body", 2048, "request body size in bytes")
	fs.StringVar(&o.Caddy, "caddy", "", "Caddy binary with Hookguard (default: build ./cmd/caddy)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	_ = fs.Parse(os.Args[2:])

	rep, err := runInbound(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hookbench:", err)
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.print(os.Stdout)
	}
	if rep.Errors() > 0 {
		os.Exit(1)
	}
}
