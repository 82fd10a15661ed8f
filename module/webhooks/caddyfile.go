package webhooks

import (
	"cmp"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("webhooks", parseGlobalOption)
}

// parseGlobalOption turns the `webhooks` global option into the app.
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the webhooks global option may appear only once")
	}
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "webhooks", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from the global option. Syntax:
//
//	webhooks {
//		storage badger [<dir>]
//		storage redis [<url>] {
//			url <url>
//			prefix <string>
//			lease <duration>
//		}
//		dispatch {
//			workers <n>
//			attempts <n>
//			backoff <duration>...
//			timeout <duration>
//			retention <duration>
//			disable_after <duration>
//			rotation_overlap <duration>
//			allow_networks <cidr>...
//			allow_http
//		}
//		endpoint <name> <url> {
//			events <type>...
//			secret <value>
//			scheme <name>
//			header <name> <value>
//			disabled
//		}
//	}
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume option name
	if d.NextArg() {
		return d.ArgErr()
	}
	var endpointLines []int
	var redisLease caddy.Duration // with storage redis: its lease, or the default
	var storageLine int
	for d.NextBlock(0) {
		switch d.Val() {
		case "storage":
			if a.StorageRaw != nil {
				return d.Err("storage already specified")
			}
			if !d.NextArg() {
				return d.ArgErr()
			}
			switch d.Val() {
			case "badger":
				var s BadgerStorage
				if d.NextArg() {
					s.Dir = d.Val()
				}
				if d.NextArg() {
					return d.ArgErr()
				}
				a.StorageRaw = caddyconfig.JSONModuleObject(s, "module", "badger", nil)
			case "redis":
				storageLine = d.Line()
				s, err := unmarshalRedisStorage(d)
				if err != nil {
					return err
				}
				redisLease = cmp.Or(s.Lease, caddy.Duration(defaultRedisLease))
				a.StorageRaw = caddyconfig.JSONModuleObject(s, "module", "redis", nil)
			default:
				return d.Errf("unrecognized storage backend %q (want badger or redis)", d.Val())
			}
		case "dispatch":
			if a.Dispatch != nil {
				return d.Err("dispatch already specified")
			}
			a.Dispatch = new(Dispatch)
			if err := a.Dispatch.unmarshalCaddyfile(d); err != nil {
				return err
			}
		case "endpoint":
			endpointLines = append(endpointLines, d.Line())
			se, err := unmarshalEndpoint(d)
			if err != nil {
				return err
			}
			for _, other := range a.Endpoints {
				if other.Name == se.Name {
					return d.Errf("endpoint %q already specified", se.Name)
				}
			}
			a.Endpoints = append(a.Endpoints, se)
		default:
			return d.Errf("unrecognized subdirective %q", d.Val())
		}
	}
	// Endpoint URLs are checked against the dispatch policy, which may be
	// written after them.
	var dp Dispatch
	if a.Dispatch != nil {
		dp = *a.Dispatch // a copy, so the defaults stay out of the JSON
	}
	policy, _, err := dp.provision()
	if err != nil {
		return d.Errf("dispatch: %v", err)
	}
	if redisLease != 0 && redisLease <= dp.Timeout {
		return fmt.Errorf("storage redis: lease %v must be longer than the dispatch timeout %v, at %s:%d",
			time.Duration(redisLease), time.Duration(dp.Timeout), d.File(), storageLine)
	}
	for i := range a.Endpoints {
		se := a.Endpoints[i] // a copy, as above
		if strings.Contains(se.Secret, "{") {
			se.Secret = "" // a placeholder is resolved, and so checked, at provision
		}
		if err := se.provision(policy); err != nil {
			return fmt.Errorf("%w, at %s:%d", err, d.File(), endpointLines[i])
		}
	}
	return nil
}

// unmarshalDispatch parses the dispatch block.
func (dp *Dispatch) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if seen[sub] {
			return d.Errf("%s already specified", sub)
		}
		seen[sub] = true
		args := d.RemainingArgs()
		switch sub {
		case "workers", "attempts":
			if len(args) != 1 {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return d.Errf("%s: want a whole number of at least 1, got %q", sub, args[0])
			}
			if sub == "workers" {
				dp.Workers = n
			} else {
				dp.Attempts = n
			}
		case "backoff":
			if len(args) == 0 {
				return d.Err("backoff: want one or more durations")
			}
			for _, arg := range args {
				dur, err := caddy.ParseDuration(arg)
				if err != nil || dur <= 0 {
					return d.Errf("backoff: want a positive duration, got %q", arg)
				}
				dp.Backoff = append(dp.Backoff, caddy.Duration(dur))
			}
		case "timeout", "retention", "disable_after", "rotation_overlap":
			if len(args) != 1 {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(args[0])
			if err != nil || dur <= 0 {
				return d.Errf("%s: want a positive duration, got %q", sub, args[0])
			}
			*map[string]*caddy.Duration{"timeout": &dp.Timeout, "retention": &dp.Retention,
				"disable_after": &dp.DisableAfter, "rotation_overlap": &dp.RotationOverlap}[sub] = caddy.Duration(dur)
		case "allow_networks":
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, arg := range args {
				if _, err := netip.ParsePrefix(arg); err != nil {
					return d.Errf("allow_networks: want a CIDR such as 10.0.0.0/8, got %q", arg)
				}
			}
			dp.AllowNetworks = append(dp.AllowNetworks, args...)
		case "allow_http":
			if len(args) != 0 {
				return d.ArgErr()
			}
			dp.AllowHTTP = true
		default:
			return d.Errf("unrecognized subdirective %q", sub)
		}
	}
	return nil
}

// unmarshalEndpoint parses `endpoint <name> <url> { … }`.
func unmarshalEndpoint(d *caddyfile.Dispenser) (StaticEndpoint, error) {
	var se StaticEndpoint
	if !d.Args(&se.Name, &se.URL) {
		return se, d.ArgErr()
	}
	if d.NextArg() {
		return se, d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if seen[sub] && sub != "header" {
			return se, d.Errf("%s already specified", sub)
		}
		seen[sub] = true
		args := d.RemainingArgs()
		switch sub {
		case "events":
			if len(args) == 0 {
				return se, d.ArgErr()
			}
			se.Events = args
		case "secret", "scheme":
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return se, d.ArgErr()
			}
			if sub == "secret" {
				se.Secret = args[0]
			} else {
				se.Scheme = args[0]
			}
		case "header":
			if len(args) != 2 {
				return se, d.ArgErr()
			}
			if se.Headers == nil {
				se.Headers = map[string]string{}
			}
			se.Headers[http.CanonicalHeaderKey(args[0])] = args[1]
		case "disabled":
			if len(args) != 0 {
				return se, d.ArgErr()
			}
			se.Disabled = true
		default:
			return se, d.Errf("unrecognized subdirective %q", sub)
		}
	}
	return se, nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*App)(nil)
