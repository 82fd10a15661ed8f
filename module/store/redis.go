package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultRedisPrefix is the key prefix when RedisOptions leaves it unset.
const DefaultRedisPrefix = "hookguard:"

const (
	// redisTTLMargin is added to Redis's own expiry of every key. Expiry
	// logic reads the logical expiry held in the records against the
	// store's clock; Redis's TTL only collects garbage, a little after the
	// logic could need a record.
	redisTTLMargin = time.Minute
	// redisTimeout bounds one round trip (dial, read or write), so that a
	// Redis that is down or stuck turns into an error quickly and the
	// handlers can refuse instead of waiting.
	redisTimeout = 2 * time.Second
	// redisAttempts bounds the retries of UpdateEndpoint after another
	// writer (another replica: writers in one process queue up) changed the
	// endpoint between its read and its write, and of CreateEvent when an
	// idempotency key's event lapses under it. Retries of UpdateEndpoint
	// wait a random moment, growing, so that replicas recording one
	// endpoint's health at once all get through.
	redisAttempts = 50
)

// Redis is the Store shared by several Caddy replicas: dedupe claims,
// endpoints, the event log and the delivery queue live in one Redis (7 or
// later; a single primary, not Redis Cluster), under one key prefix.
// Every write returns once Redis has acknowledged it; how durable that is
// depends on the server's persistence (`appendfsync always` makes it an
// fsync). Redis is safe for concurrent use, by many processes.
//
// Leases and retention are measured by the injected clock, as with Badger:
// the records carry their logical expiry, and Lua scripts compare it with
// the caller's reading of the clock. Redis's own TTLs, a little longer,
// only collect garbage. Replicas should therefore keep their clocks in
// sync (NTP); a skew shortens or lengthens leases by as much.
type Redis struct {
	client *redis.Client
	// pipe sends most commands, batching those issued together; an
	// optimistic transaction (WATCH) uses client directly.
	pipe   *autoPipeline
	prefix string
	now    func() time.Time
	// where names the server for errors, with any password redacted.
	where string

	// releasing bounds the claims being taken back after a failed Reserve
	// (see releaseLost), so that an outage under heavy traffic cannot pile
	// up goroutines.
	releasing chan struct{}

	// endpointMu stripes UpdateEndpoint by endpoint ID within the process,
	// so that concurrent updates of one endpoint queue up here instead of
	// failing each other's optimistic transactions.
	endpointMu [16]sync.Mutex

	// mu is held shared by every operation and exclusively by Close.
	mu     sync.RWMutex
	closed bool
}

// RedisOptions configures OpenRedis. The zero value is ready to use.
type RedisOptions struct {
	// Prefix namespaces every key. Default: DefaultRedisPrefix.
	Prefix string
	// Now is the clock that lease and retention expiry are measured by.
	// Default: time.Now.
	Now func() time.Time
	// Logger, if set, receives the Redis client's own messages (such as
	// failed dials) as warnings. The client has one logger per process:
	// the last store opened with a Logger sets it.
	Logger *zap.Logger
}

// OpenRedis connects to the Redis at rawURL (redis://[user:pass@]host:port/db,
// or rediss:// for TLS) and checks that it answers. Errors never show the
// URL's password.
func OpenRedis(ctx context.Context, rawURL string, o RedisOptions) (*Redis, error) {
	where := RedactURL(rawURL)
	opts, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout = redisTimeout
	opts.ReadTimeout = redisTimeout
	opts.WriteTimeout = redisTimeout
	opts.ContextTimeoutEnabled = true
	opts.DisableIdentity = true
	// One retry covers a pooled connection that a Redis restart closed;
	// more would only hold requests longer while Redis is stuck.
	opts.MaxRetries = 1
	// A refused dial is an answer: Redis is down. Say so now, so that the
	// handlers refuse at once instead of holding the request.
	opts.DialerRetries = 1
	if o.Prefix == "" {
		o.Prefix = DefaultRedisPrefix
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger != nil {
		redis.SetLogger(redisLogger{o.Logger.Named("redis")})
	}
	client := redis.NewClient(opts)
	r := &Redis{client: client, pipe: newAutoPipeline(client), releasing: make(chan struct{}, 64),
		prefix: o.Prefix, now: o.Now, where: where}
	if err := r.client.Ping(ctx).Err(); err != nil {
		r.pipe.close()
		_ = r.client.Close()
		return nil, fmt.Errorf("connecting to redis at %s: %w", where, err)
	}
	return r, nil
}

// CheckRedisURL reports whether rawURL is a Redis URL that OpenRedis
// accepts, without connecting. The error never shows the password.
func CheckRedisURL(rawURL string) error {
	_, err := parseRedisURL(rawURL)
	return err
}

// parseRedisURL parses rawURL into client options.
func parseRedisURL(rawURL string) (*redis.Options, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// url.Parse quotes the whole URL in its error: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("parsing redis URL %s: %w", RedactURL(rawURL), err)
	}
	return opts, nil
}

// RedactURL returns rawURL with any password replaced, for logs and
// errors; a URL that does not parse is not shown at all.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// Reserve implements Dedupe. A new key is claimed with SET NX and a
// Redis expiry; a key that is present but logically lapsed is taken over
// by a script, atomically.
func (r *Redis) Reserve(ctx context.Context, key, token string, lease time.Duration) (Claim, bool, error) {
	if err := checkClaimArgs(key, token); err != nil {
		return Claim{}, false, err
	}
	if err := checkPositive("lease", lease); err != nil {
		return Claim{}, false, err
	}
	if err := r.acquire(ctx); err != nil {
		return Claim{}, false, err
	}
	defer r.mu.RUnlock()
	now := r.now()
	c := Claim{State: InFlight, Token: token, Expires: now.Add(lease)}
	k := r.key("d:", key)
	v := encodeRedisClaim(c)
	set := redis.NewBoolCmd(ctx, "set", k, v, "px", ms(lease+redisTTLMargin), "nx")
	_ = r.send(ctx, set)
	ok, err := set.Result()
	if err != nil {
		// The claim may still land (a stuck Redis runs what it was sent
		// once it resumes) and would hold the key for its lease although
		// the caller was refused: take it back, if Redis lets us.
		select {
		case r.releasing <- struct{}{}:
			go r.releaseLost(key, token)
		default: // enough already: this claim, if it lands, lapses with its lease
		}
		return Claim{}, false, r.fail("reserving dedupe claim", err)
	}
	if ok {
		return c, true, nil
	}
	res, err := r.eval(ctx, reserveScript, []string{k}, hexTime(now), v, ms(lease+redisTTLMargin)).Slice()
	if err != nil {
		return Claim{}, false, r.fail("reserving dedupe claim", err)
	}
	if len(res) != 2 {
		return Claim{}, false, fmt.Errorf("reserving dedupe claim: unexpected reply %v", res)
	}
	if owned, _ := res[0].(int64); owned == 1 {
		return c, true, nil
	}
	s, _ := res[1].(string)
	cur, err := decodeRedisClaim(s)
	if err != nil {
		return Claim{}, false, fmt.Errorf("reserving dedupe claim: %w", err)
	}
	return cur, false, nil
}

// releaseLost releases a claim whose Reserve failed, in case it landed,
// trying for a while; nothing happens if it did not land or the store
// closes.
func (r *Redis) releaseLost(key, token string) {
	defer func() { <-r.releasing }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		err := r.Release(ctx, key, token)
		if err == nil || errors.Is(err, ErrNotOwner) || errors.Is(err, ErrClosed) {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Extend implements Dedupe.
func (r *Redis) Extend(ctx context.Context, key, token string, lease time.Duration) error {
	if err := checkPositive("lease", lease); err != nil {
		return err
	}
	return r.asOwner(ctx, "extending", key, token, func(now time.Time) (string, time.Duration) {
		return encodeRedisClaim(Claim{State: InFlight, Token: token, Expires: now.Add(lease)}), lease
	})
}

// Commit implements Dedupe. The done record keeps resp for ttl.
func (r *Redis) Commit(ctx context.Context, key, token string, resp Response, ttl time.Duration) error {
	if err := checkPositive("ttl", ttl); err != nil {
		return err
	}
	return r.asOwner(ctx, "committing", key, token, func(now time.Time) (string, time.Duration) {
		return encodeRedisClaim(Claim{State: Done, Expires: now.Add(ttl), Response: resp}), ttl
	})
}

// Release implements Dedupe.
func (r *Redis) Release(ctx context.Context, key, token string) error {
	return r.asOwner(ctx, "releasing", key, token, nil)
}

// Close closes the connections, waiting for operations under way. It is
// idempotent; operations after it return ErrClosed.
func (r *Redis) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.pipe.close()
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("closing redis client for %s: %w", r.where, err)
	}
	return nil
}

// String names the store, with any password redacted.
func (r *Redis) String() string {
	return "redis store at " + r.where + " (prefix " + r.prefix + ")"
}

// acquire checks ctx and takes r.mu shared; on success the caller must
// release it with r.mu.RUnlock.
func (r *Redis) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// asOwner runs the owner script on key: if token holds a live in-flight
// claim, the claim becomes what next returns (kept for its duration plus
// the margin), or is deleted when next is nil. Otherwise ErrNotOwner.
func (r *Redis) asOwner(ctx context.Context, op, key, token string, next func(now time.Time) (string, time.Duration)) error {
	if err := checkClaimArgs(key, token); err != nil {
		return err
	}
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.mu.RUnlock()
	now := r.now()
	v, life := "", time.Duration(0)
	if next != nil {
		v, life = next(now)
	}
	n, err := r.eval(ctx, ownerScript, []string{r.key("d:", key)}, hexTime(now), token, v, ms(life+redisTTLMargin)).Int()
	if err != nil {
		return r.fail(op+" dedupe claim", err)
	}
	if n != 1 {
		return ErrNotOwner
	}
	return nil
}

// fail wraps a Redis error (or the context's, which errors.Is still finds)
// with what was being done and where.
func (r *Redis) fail(doing string, err error) error {
	return fmt.Errorf("%s in redis at %s: %w", doing, r.where, err)
}

// key is the Redis key of a record: the prefix, its kind and its ID.
func (r *Redis) key(kind, id string) string {
	return r.prefix + kind + id
}

// encodeRedisClaim is a claim as Redis holds it. The head is what the
// scripts read: the state ('I' in flight, 'D' done) and the expiry in
// fixed-width hex, which sorts as the time does; an in-flight claim then
// holds its token, a done one the full claim in the Badger codec.
func encodeRedisClaim(c Claim) string {
	head := hexTime(c.Expires)
	if c.State == InFlight {
		return "I" + head + c.Token
	}
	return "D" + head + string(encodeClaim(c))
}

// decodeRedisClaim parses what encodeRedisClaim wrote.
func decodeRedisClaim(s string) (Claim, error) {
	if len(s) < 17 {
		return Claim{}, errCorruptClaim
	}
	switch s[0] {
	case 'I':
		exp, ok := parseHexTime(s[1:17])
		if !ok {
			return Claim{}, errCorruptClaim
		}
		return Claim{State: InFlight, Token: s[17:], Expires: exp}, nil
	case 'D':
		return decodeClaim([]byte(s[17:]))
	}
	return Claim{}, errCorruptClaim
}

// hexTime is t as 16 hex digits of Unix nanoseconds (before 1970 counts as
// 1970): strings that compare as the times do, which Lua can compare
// exactly where its numbers could not.
func hexTime(t time.Time) string {
	return fmt.Sprintf("%016x", queueNanos(t))
}

// parseHexTime reads what hexTime wrote, as a UTC time.
func parseHexTime(s string) (time.Time, bool) {
	var n uint64
	if len(s) != 16 {
		return time.Time{}, false
	}
	if _, err := fmt.Sscanf(s, "%016x", &n); err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(n)).UTC(), true
}

// ms is d in whole milliseconds, at least 1, for PX and PEXPIRE.
func ms(d time.Duration) int64 {
	return max(d.Milliseconds(), 1)
}

// isRedisNil reports whether err is Redis's "no such key".
func isRedisNil(err error) bool {
	return errors.Is(err, redis.Nil)
}

// redisLogger adapts a zap logger to the Redis client's logger.
type redisLogger struct{ l *zap.Logger }

func (a redisLogger) Printf(_ context.Context, format string, v ...any) {
	if ce := a.l.Check(zapcore.WarnLevel, ""); ce != nil {
		ce.Message = strings.TrimSpace(fmt.Sprintf(format, v...))
		ce.Write()
	}
}

// Interface guards
var _ Store = (*Redis)(nil)
