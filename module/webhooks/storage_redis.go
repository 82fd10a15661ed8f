package webhooks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/hookguard/hookguard/module/store"
)

func init() {
	caddy.RegisterModule(RedisStorage{})
}

// redises holds one client per Redis URL and prefix for the whole process,
// so that a config reload reuses the running config's connections.
var redises = caddy.NewUsagePool()

// Defaults of the Redis storage.
const (
	defaultRedisLease = 30 * time.Second
	// redisOpenTimeout bounds the first connection when the app starts.
	redisOpenTimeout = 10 * time.Second
)

// RedisStorage keeps dedupe claims, endpoints, the event log and the
// outbound queue in Redis (7 or later), so that several Caddy replicas
// share them: a duplicate that reaches another replica is still caught,
// an endpoint created through one replica's admin API is used by all, and
// the deliveries of a replica that dies are taken over by the others once
// their lease lapses.
//
// A write is acknowledged once Redis has acknowledged it. With the
// server's `appendfsync always`, that is once it is on disk.
type RedisStorage struct {
	// URL is the server: `redis://[user:password@]host:port/db`, or
	// `rediss://` for TLS. Placeholders such as `{env.REDIS_PASSWORD}`
	// are replaced when the config loads, and the password is never
	// logged. Required.
	URL string `json:"url,omitempty"`
	// Prefix starts every key, so that several deployments can share a
	// server. Replicas that work together use the same prefix. Default:
	// `hookguard:`.
	Prefix string `json:"prefix,omitempty"`
	// Lease is how long a replica holds an outbound delivery while it
	// attempts it. If the replica dies, another one takes the delivery
	// over once the lease lapses. It must be longer than the dispatch
	// timeout. Default: 30s.
	Lease caddy.Duration `json:"lease,omitempty"`

	open *pooledStore // set by Provision
}

// CaddyModule returns the Caddy module information.
func (RedisStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhooks.storage.redis",
		New: func() caddy.Module { return new(RedisStorage) },
	}
}

// Provision sets the defaults and checks the URL. The connection is made
// when the app starts, not here, so `caddy validate` needs no server.
func (s *RedisStorage) Provision(ctx caddy.Context) error {
	if s.Prefix == "" {
		s.Prefix = store.DefaultRedisPrefix
	}
	if s.Lease == 0 {
		s.Lease = caddy.Duration(defaultRedisLease)
	}
	url := caddy.NewReplacer().ReplaceKnown(s.URL, "")
	if url == "" {
		return fmt.Errorf("redis storage needs a url")
	}
	if err := store.CheckRedisURL(url); err != nil {
		return err
	}
	logger, prefix, where := ctx.Logger(), s.Prefix, store.RedactURL(url)
	s.open = &pooledStore{pool: redises, key: prefix + "\x00" + url, name: "at " + where, open: func() (store.Store, error) {
		octx, cancel := context.WithTimeout(context.Background(), redisOpenTimeout)
		defer cancel()
		st, err := store.OpenRedis(octx, url, store.RedisOptions{Prefix: prefix, Logger: logger})
		if err != nil {
			return nil, err
		}
		logger.Info("opened webhook store", zap.String("redis", where), zap.String("prefix", prefix))
		return st, nil
	}}
	return nil
}

// Validate checks the lease.
func (s *RedisStorage) Validate() error {
	if s.Lease <= 0 {
		return fmt.Errorf("redis storage: lease must be positive, got %v", time.Duration(s.Lease))
	}
	return nil
}

// Open returns the open store, connecting or taking another reference to
// the client this process already has for the same URL and prefix.
func (s *RedisStorage) Open() (store.Store, error) {
	return s.open.get()
}

// Cleanup releases this config's reference, if it took one.
func (s *RedisStorage) Cleanup() error {
	if s.open == nil {
		return nil
	}
	return s.open.release()
}

// DeliveryLease is how long the app's workers hold a delivery.
func (s *RedisStorage) DeliveryLease() time.Duration {
	return time.Duration(s.Lease)
}

// unmarshalRedisStorage parses what follows `storage redis`. Syntax:
//
//	storage redis <url>
//	storage redis [<url>] {
//		url <url>
//		prefix <string>
//		lease <duration>
//	}
func unmarshalRedisStorage(d *caddyfile.Dispenser) (RedisStorage, error) {
	var s RedisStorage
	if d.NextArg() {
		s.URL = d.Val()
	}
	if d.NextArg() {
		return s, d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if seen[sub] || sub == "url" && s.URL != "" {
			return s, d.Errf("%s already specified", sub)
		}
		seen[sub] = true
		var arg string
		if !d.Args(&arg) || d.NextArg() {
			return s, d.ArgErr()
		}
		switch sub {
		case "url":
			s.URL = arg
		case "prefix":
			s.Prefix = arg
		case "lease":
			dur, err := caddy.ParseDuration(arg)
			if err != nil || dur <= 0 {
				return s, d.Errf("lease: want a positive duration, got %q", arg)
			}
			s.Lease = caddy.Duration(dur)
		default:
			return s, d.Errf("unrecognized subdirective %q", sub)
		}
	}
	switch {
	case s.URL == "":
		return s, d.Err("storage redis needs a URL, such as redis://127.0.0.1:6379/0")
	case !strings.Contains(s.URL, "{"):
		// With placeholders, the URL is checked once they are replaced.
		if err := store.CheckRedisURL(s.URL); err != nil {
			return s, d.Errf("storage redis: %v", err)
		}
	}
	return s, nil
}

// Interface guards
var (
	_ caddy.Provisioner  = (*RedisStorage)(nil)
	_ caddy.Validator    = (*RedisStorage)(nil)
	_ caddy.CleanerUpper = (*RedisStorage)(nil)
	_ Storage            = (*RedisStorage)(nil)
)
