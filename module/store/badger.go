package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ErrDirInUse is returned by OpenBadger when the directory is already open,
// by another process or by another OpenBadger in this one. Badger locks its
// directory, so a process must share one *Badger per directory.
var ErrDirInUse = errors.New("badger directory is in use by another process (or another open in this one)")

const (
	// dedupePrefix namespaces dedupe claims among the store's keys.
	dedupePrefix = "dedupe/"
	// defaultGCInterval is the value-log GC period when BadgerOptions leaves it unset.
	defaultGCInterval = 5 * time.Minute
	// defaultValueLogFileSize keeps value-log files small enough for GC to
	// reclaim them on a sidecar (GC never rewrites the active file).
	defaultValueLogFileSize = 64 << 20
	// gcDiscardRatio rewrites a value-log file once half of it is garbage.
	gcDiscardRatio = 0.5
	// ttlMargin is added to Badger's own TTL on every claim. Expiry logic
	// reads Claim.Expires against the injected clock; Badger's wall-clock TTL
	// only collects garbage, later than the logic could ever need the record.
	ttlMargin = time.Hour
	// ownerAttempts bounds the retries of Extend, Commit and Release after a
	// write conflict.
	ownerAttempts = 5
)

// Badger is the embedded Store: dedupe claims, endpoints, the event log and
// the delivery queue live in one Badger v4 database in one directory,
// written with fsync. A value-log GC loop runs in the background until
// Close. Badger is safe for concurrent use.
type Badger struct {
	db     *badger.DB
	now    func() time.Time
	logger *zap.Logger

	// claimMu serializes ClaimDue within the process, so that concurrent
	// claimers queue up instead of failing each other's transactions.
	// Badger's conflict detection is what keeps a delivery to one token.
	claimMu sync.Mutex
	// endpointMu stripes PutEndpoint and UpdateEndpoint by endpoint ID, and
	// ownerMu stripes Extend, Commit and Release by dedupe key, for the same
	// reason: an owner's Commit racing its own lease keep-alive must not run
	// out of conflict retries.
	endpointMu [16]sync.Mutex
	ownerMu    [16]sync.Mutex
	// listScanLimit bounds the events one ListEvents call examines.
	listScanLimit int
	// beforeCommit, if set, runs before each outbound read-write
	// transaction commits, with the operation's name. Tests set it before
	// use to force write conflicts.
	beforeCommit func(op string)

	// mu is held shared by every operation and exclusively by Close, so that
	// no operation touches the database once it is closed.
	mu     sync.RWMutex
	closed bool
	stop   chan struct{} // closed by Close to end the GC loop
	gcDone chan struct{} // closed when the GC loop has returned
}

// BadgerOptions configures OpenBadger. The zero value is ready to use.
type BadgerOptions struct {
	// Logger receives Badger's own warnings and errors (never its info or
	// debug lines) and value-log GC failures. Default: no logging.
	Logger *zap.Logger
	// Now is the clock that lease and retention expiry are measured by.
	// Default: time.Now.
	Now func() time.Time
	// GCInterval is the time between value-log GC runs; zero or negative
	// means the default, 5 minutes.
	GCInterval time.Duration

	// valueLogFileSize overrides the value-log file size in bytes, so that
	// tests reach value-log GC with little data. Zero means 64 MiB.
	valueLogFileSize int64
}

// OpenBadger opens (creating it if needed) the Badger database in dir with
// options sized for a small sidecar, and starts its value-log GC loop.
// If dir is already open, the error wraps ErrDirInUse.
func OpenBadger(dir string, o BadgerOptions) (*Badger, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.GCInterval <= 0 {
		o.GCInterval = defaultGCInterval
	}
	if o.valueLogFileSize == 0 {
		o.valueLogFileSize = defaultValueLogFileSize
	}
	// Measured starting point from reliability.md. WithLoggingLevel is not
	// used: it would replace the zap adapter with Badger's stderr logger.
	opts := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{o.Logger.Named("badger")}).
		WithSyncWrites(true).
		WithDetectConflicts(true).
		WithNumVersionsToKeep(1).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithValueThreshold(64 << 10).
		WithValueLogFileSize(o.valueLogFileSize).
		WithBlockCacheSize(16 << 20).
		WithIndexCacheSize(16 << 20).
		WithNumCompactors(2).
		WithCompactL0OnClose(true)
	db, err := badger.Open(opts)
	if err != nil {
		// Badger flattens its lock error to text; this phrase is common to
		// its Unix, Windows and AIX lock failures.
		if strings.Contains(err.Error(), "Another process is using this Badger database") {
			return nil, fmt.Errorf("opening badger at %s: %w (badger: %v)", dir, ErrDirInUse, err)
		}
		return nil, fmt.Errorf("opening badger at %s: %w", dir, err)
	}
	b := &Badger{
		db:     db,
		now:    o.Now,
		logger: o.Logger,
		stop:   make(chan struct{}),
		gcDone: make(chan struct{}),

		listScanLimit: ListScanLimit,
	}
	go b.gcLoop(o.GCInterval)
	return b, nil
}

// Reserve implements Dedupe.
func (b *Badger) Reserve(ctx context.Context, key, token string, lease time.Duration) (Claim, bool, error) {
	if err := checkClaimArgs(key, token); err != nil {
		return Claim{}, false, err
	}
	if err := checkPositive("lease", lease); err != nil {
		return Claim{}, false, err
	}
	if err := b.acquire(ctx); err != nil {
		return Claim{}, false, err
	}
	defer b.mu.RUnlock()
	txn := b.db.NewTransaction(true)
	defer txn.Discard()
	return b.reserveIn(txn, key, token, lease)
}

// reserveIn is Reserve within txn, which it commits. It is apart from
// Reserve so that tests can hand it a transaction that is bound to conflict.
func (b *Badger) reserveIn(txn *badger.Txn, key, token string, lease time.Duration) (Claim, bool, error) {
	now := b.now()
	k := dedupeKey(key)
	cur, found, err := getClaim(txn, k)
	if err != nil {
		return Claim{}, false, fmt.Errorf("reserving dedupe claim: %w", err)
	}
	if found && now.Before(cur.Expires) {
		return cur, false, nil
	}
	c := Claim{State: InFlight, Token: token, Expires: now.Add(lease)}
	if err := setClaim(txn, k, c, lease); err != nil {
		return Claim{}, false, fmt.Errorf("reserving dedupe claim: %w", err)
	}
	if err := txn.Commit(); err != nil {
		if errors.Is(err, badger.ErrConflict) {
			// A concurrent Reserve wrote the key first: it owns it now.
			return Claim{State: InFlight}, false, nil
		}
		return Claim{}, false, fmt.Errorf("reserving dedupe claim: %w", err)
	}
	return c, true, nil
}

// Extend implements Dedupe.
func (b *Badger) Extend(ctx context.Context, key, token string, lease time.Duration) error {
	if err := checkPositive("lease", lease); err != nil {
		return err
	}
	return b.asOwner(ctx, "extending", key, token, func(txn *badger.Txn, k []byte, now time.Time) error {
		return setClaim(txn, k, Claim{State: InFlight, Token: token, Expires: now.Add(lease)}, lease)
	})
}

// Commit implements Dedupe.
func (b *Badger) Commit(ctx context.Context, key, token string, resp Response, ttl time.Duration) error {
	if err := checkPositive("ttl", ttl); err != nil {
		return err
	}
	return b.asOwner(ctx, "committing", key, token, func(txn *badger.Txn, k []byte, now time.Time) error {
		return setClaim(txn, k, Claim{State: Done, Expires: now.Add(ttl), Response: resp}, ttl)
	})
}

// Release implements Dedupe.
func (b *Badger) Release(ctx context.Context, key, token string) error {
	return b.asOwner(ctx, "releasing", key, token, func(txn *badger.Txn, k []byte, _ time.Time) error {
		return txn.Delete(k)
	})
}

// Len counts the dedupe keys stored, lapsed ones included until Badger's
// own TTL collects them. Tests use it to check that refused requests write
// nothing.
func (b *Badger) Len(ctx context.Context) (int, error) {
	if err := b.acquire(ctx); err != nil {
		return 0, err
	}
	defer b.mu.RUnlock()
	n := 0
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(dedupePrefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// Close stops the GC loop and closes the database, waiting for operations
// under way. It is idempotent; operations after it return ErrClosed.
func (b *Badger) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.stop)
	<-b.gcDone
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("closing badger at %s: %w", b.db.Opts().Dir, err)
	}
	return nil
}

// acquire checks ctx and takes b.mu shared; on success the caller must
// release it with b.mu.RUnlock.
func (b *Badger) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// asOwner runs write on key's claim in a read-write transaction if token
// holds a live in-flight claim on it, and returns ErrNotOwner otherwise.
// A write conflict is retried up to ownerAttempts times: each attempt reads
// the claim afresh, so a new owner turns the retry into ErrNotOwner.
func (b *Badger) asOwner(ctx context.Context, op, key, token string, write func(txn *badger.Txn, k []byte, now time.Time) error) error {
	if err := checkClaimArgs(key, token); err != nil {
		return err
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	mu := stripe(&b.ownerMu, key)
	mu.Lock()
	defer mu.Unlock()
	k := dedupeKey(key)
	for range ownerAttempts {
		err := b.db.Update(func(txn *badger.Txn) error {
			now := b.now()
			c, found, err := getClaim(txn, k)
			if err != nil {
				return err
			}
			if !found || c.State != InFlight || c.Token != token || !now.Before(c.Expires) {
				return ErrNotOwner
			}
			return write(txn, k, now)
		})
		switch {
		case err == nil || errors.Is(err, ErrNotOwner):
			return err
		case !errors.Is(err, badger.ErrConflict):
			return fmt.Errorf("%s dedupe claim: %w", op, err)
		}
	}
	return fmt.Errorf("%s dedupe claim: %w (%d attempts)", op, badger.ErrConflict, ownerAttempts)
}

// stripe returns the mutex of locks that guards key.
func stripe(locks *[16]sync.Mutex, key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &locks[h.Sum32()%uint32(len(locks))]
}

// gcLoop runs value-log GC every interval until Close.
func (b *Badger) gcLoop(interval time.Duration) {
	defer close(b.gcDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			if n := b.collectValueLog(); n > 0 {
				b.logger.Debug("value log gc", zap.Int("files_rewritten", n))
			}
		}
	}
}

// collectValueLog rewrites value-log files, as long as each pass finds one
// that is at least half garbage and Close has not begun, and returns how
// many it rewrote.
func (b *Badger) collectValueLog() int {
	for n := 0; ; n++ {
		select {
		case <-b.stop:
			return n
		default:
		}
		if err := b.db.RunValueLogGC(gcDiscardRatio); err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				b.logger.Warn("value log gc failed", zap.Error(err))
			}
			return n
		}
	}
}

// dedupeKey is the database key of a dedupe claim.
func dedupeKey(key string) []byte {
	return append([]byte(dedupePrefix), key...)
}

// getClaim reads the claim at k, reporting whether one is stored.
func getClaim(txn *badger.Txn, k []byte) (Claim, bool, error) {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Claim{}, false, nil
	}
	if err != nil {
		return Claim{}, false, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return Claim{}, false, err
	}
	c, err := decodeClaim(v)
	if err != nil {
		return Claim{}, false, err
	}
	return c, true, nil
}

// setClaim writes c at k. Badger's TTL is life plus ttlMargin: a backstop
// for garbage, never what decides expiry.
func setClaim(txn *badger.Txn, k []byte, c Claim, life time.Duration) error {
	return txn.SetEntry(badger.NewEntry(k, encodeClaim(c)).WithTTL(life + ttlMargin))
}

// badgerLogger adapts a zap logger to badger.Logger, keeping warnings and
// errors only.
type badgerLogger struct{ l *zap.Logger }

func (a badgerLogger) Errorf(format string, v ...any)   { a.log(zapcore.ErrorLevel, format, v) }
func (a badgerLogger) Warningf(format string, v ...any) { a.log(zapcore.WarnLevel, format, v) }
func (badgerLogger) Infof(string, ...any)               {}
func (badgerLogger) Debugf(string, ...any)              {}

// log formats the message only if lvl is enabled.
func (a badgerLogger) log(lvl zapcore.Level, format string, v []any) {
	if ce := a.l.Check(lvl, ""); ce != nil {
		ce.Message = strings.TrimSpace(fmt.Sprintf(format, v...))
		ce.Write()
	}
}

// Interface guards
var _ Store = (*Badger)(nil)
