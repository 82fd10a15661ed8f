package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
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
	// syncInterval is how often both databases are synced whatever their
	// writes asked for: the most a power loss can forget of dedupe records
	// and delivery states.
	syncInterval = time.Second
	// defaultValueLogFileSize keeps value-log files small enough for GC to
	// reclaim them on a sidecar (GC never rewrites the active file).
	defaultValueLogFileSize = 64 << 20
	// gcDiscardRatio rewrites a value-log file once half of it is garbage.
	gcDiscardRatio = 0.5
	// ttlMargin is added to Badger's own TTL on every claim. Expiry logic
	// reads Claim.Expires against the injected clock; Badger's wall-clock TTL
	// only collects garbage, later than the logic could ever need the record.
	ttlMargin = time.Hour
)

// syncLinger is how long a round of outbound fsyncs waits for more writes
// to join it while intake keeps it busy (see group): at 32 concurrent
// intakes it cut the rounds by a quarter, for a millisecond more on each
// acknowledgment under load.
const syncLinger = time.Millisecond

// Badger is the embedded Store: two Badger v4 databases under one
// directory, dedupe/ for claims and done records and outbound/ for
// endpoints, the event log and the delivery queue. A background loop
// syncs them every second and collects their value logs until Close.
// Badger is safe for concurrent use.
//
// Every outbound write reaches the operating system before it returns, so
// a crashed process (kill -9) loses none of them. Dedupe writes are made
// behind the requests (see dedupe_badger.go): a claim only once held for
// persistAfter, a done record just after Commit returns, so a kill -9 can
// forget the records of the last moment, and a retry of such an event is
// forwarded again. Against power loss:
//   - CreateEvent and the endpoint writes return only once they are
//     fsync'd, in one round of fsyncs shared by all concurrent writers, so
//     an acknowledged event is never lost;
//   - dedupe records and delivery states are synced within a second, so a
//     power loss can forget the last second of them: a provider's retry of
//     such an event is then forwarded again, and such a delivery is
//     attempted again.
type Badger struct {
	db     *badger.DB // outbound/
	dedupe *badger.DB // dedupe/
	now    func() time.Time
	logger *zap.Logger
	// commitFailed is told of each done record that failed to be written.
	commitFailed func(error)

	// claimMu serializes ClaimDue within the process, so that concurrent
	// claimers queue up instead of failing each other's transactions.
	// Badger's conflict detection is what keeps a delivery to one token.
	claimMu    sync.Mutex
	queueFloor queueFloor
	// endpointMu stripes PutEndpoint and UpdateEndpoint by endpoint ID, so
	// that workers recording health queue up instead of failing each
	// other's transactions.
	endpointMu [16]sync.Mutex
	// claims holds this process's in-flight dedupe claims, and writer
	// writes every dedupe change (see dedupe_badger.go).
	claims *claimTable
	writer *group[dedupeWrite]
	// commits holds a token for each done record queued and not yet
	// written (see maxPendingCommits).
	commits chan struct{}
	// durable makes the outbound writes committed before a wait on it
	// durable, in one round of fsyncs for all concurrent waiters.
	durable *group[struct{}]
	// logs syncs each database's logs: dedupe/, then outbound/.
	logs [2]*logSyncer
	// listScanLimit bounds the events one ListEvents call examines.
	listScanLimit int
	// beforeCommit, if set, runs before each outbound read-write
	// transaction commits, with the operation's name, and as
	// "claim_snapshot" once ClaimDue has taken its snapshot. Tests set it
	// before use to force write conflicts and races.
	beforeCommit func(op string)

	// mu is held shared by every operation and exclusively by Close, so that
	// no operation touches the database once it is closed.
	mu       sync.RWMutex
	closed   bool
	stop     chan struct{} // closed by Close to end the background loop
	loopDone chan struct{} // closed when the background loop has returned
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
	// CommitFailed, if set, is called when a done record that Commit
	// queued could not be written, after Commit has returned (the failure
	// is logged as well). It must not block.
	CommitFailed func(err error)

	// valueLogFileSize overrides the value-log file size in bytes, so that
	// tests reach value-log GC with little data. Zero means 64 MiB.
	valueLogFileSize int64
}

// OpenBadger opens (creating them if needed) the Badger databases under dir
// with options sized for a small sidecar, and starts the background loop.
// If dir is already open, the error wraps ErrDirInUse.
func OpenBadger(dir string, o BadgerOptions) (*Badger, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CommitFailed == nil {
		o.CommitFailed = func(error) {}
	}
	if o.GCInterval <= 0 {
		o.GCInterval = defaultGCInterval
	}
	if o.valueLogFileSize == 0 {
		o.valueLogFileSize = defaultValueLogFileSize
	}
	outboundDir := filepath.Join(dir, "outbound")
	outbound, err := openBadgerDB(outboundDir, o, false)
	if err != nil {
		return nil, err
	}
	dedupeDir := filepath.Join(dir, "dedupe")
	dedupe, err := openBadgerDB(dedupeDir, o, true)
	if err != nil {
		outbound.Close()
		return nil, err
	}
	outboundLogs := newLogSyncer(outboundDir)
	b := &Badger{
		db:           outbound,
		dedupe:       dedupe,
		claims:       newClaimTable(),
		commits:      make(chan struct{}, maxPendingCommits),
		writer:       newDedupeWriter(dedupe),
		durable:      newGroup(func([]struct{}) error { return outboundLogs.sync() }, syncLinger),
		logs:         [2]*logSyncer{newLogSyncer(dedupeDir), outboundLogs},
		now:          o.Now,
		logger:       o.Logger,
		commitFailed: o.CommitFailed,
		stop:         make(chan struct{}),
		loopDone:     make(chan struct{}),

		listScanLimit: ListScanLimit,
	}
	go b.background(o.GCInterval)
	return b, nil
}

// openBadgerDB opens one database, without fsync on commit: the store
// syncs what needs it (see Badger). The outbound database is written by
// read-modify-write transactions, so Badger detects their conflicts. The
// dedupe database has only blind writes, from one goroutine, so it runs in
// Badger's managed mode instead: the store numbers its commits itself and
// reads the latest version, which spares every read and write Badger's
// timestamp bookkeeping (see newDedupeWriter).
// The options start from reliability.md's, measured under hookbench:
//   - 4 MiB memtables: the memtables are Go heap, and the collector lets
//     the heap grow past them; with the transaction limit (15%, 600 KiB)
//     still well over any one record, as ClaimDue and the dedupe writer
//     split larger batches;
//   - no compression: no flush or compaction holds Snappy's table builder
//     buffers (about 12 MiB at a flush), and Badger then reads blocks
//     straight from the mapped tables, so a block cache only costs memory.
//
// Inbound, peak RSS went from 115-116 MB to 88-92 MB with the ratio
// unchanged; outbound from 134-139 MB to 115-122 MB for about 5% more CPU.
// WithLoggingLevel is not used: it would replace the zap adapter with
// Badger's stderr logger.
func openBadgerDB(dir string, o BadgerOptions, managed bool) (*badger.DB, error) {
	opts := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{o.Logger.Named("badger")}).
		WithSyncWrites(false).
		WithDetectConflicts(!managed).
		WithNumVersionsToKeep(1).
		WithMemTableSize(4 << 20).
		WithNumMemtables(2).
		WithValueThreshold(64 << 10).
		WithValueLogFileSize(o.valueLogFileSize).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(8 << 20).
		WithNumCompactors(2).
		WithCompactL0OnClose(true)
	open := badger.Open
	if managed {
		open = badger.OpenManaged
	}
	opts.MemTableSize = memTableSize(dir, opts.MemTableSize)
	db, err := open(opts)
	if err != nil {
		// Badger flattens its lock error to text; this phrase is common to
		// its Unix, Windows and AIX lock failures.
		if strings.Contains(err.Error(), "Another process is using this Badger database") {
			return nil, fmt.Errorf("opening badger at %s: %w (badger: %v)", dir, ErrDirInUse, err)
		}
		return nil, fmt.Errorf("opening badger at %s: %w", dir, err)
	}
	return db, nil
}

// memTableSize is size, unless dir holds the log of a memtable that a
// killed process left unflushed under a larger MemTableSize (an earlier
// build's): then it is that size, since Badger replays such a log into an
// arena of the configured size and panics if it does not fit. Badger makes
// each memtable log twice MemTableSize long. After a clean close no log is
// left, and the next open takes size.
func memTableSize(dir string, size int64) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return size // a new database
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".mem") {
			continue
		}
		if info, err := e.Info(); err == nil && info.Size()/2 > size {
			size = info.Size() / 2
		}
	}
	return size
}

// Len counts the dedupe keys stored, lapsed ones included until Badger's
// own TTL collects them, once every write queued before it is applied.
// Tests use it to check that refused requests write nothing.
func (b *Badger) Len(ctx context.Context) (int, error) {
	if err := b.acquire(ctx); err != nil {
		return 0, err
	}
	defer b.mu.RUnlock()
	if err := <-b.writer.queue(dedupeWrite{}); err != nil {
		return 0, err
	}
	n := 0
	err := b.dedupe.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(dedupePrefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// Close stops the background loop and closes the databases, waiting for
// operations under way. It is idempotent; operations after it return
// ErrClosed.
func (b *Badger) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.stop)
	<-b.loopDone
	b.persist(b.now(), true)
	b.writer.close()
	b.durable.close()
	for _, logs := range b.logs {
		logs.close()
	}
	var errs []error
	for _, db := range []*badger.DB{b.dedupe, b.db} {
		if err := db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing badger at %s: %w", db.Opts().Dir, err))
		}
	}
	return errors.Join(errs...)
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

// stripe returns the mutex of locks that guards key.
func stripe(locks *[16]sync.Mutex, key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &locks[h.Sum32()%uint32(len(locks))]
}

// background syncs both databases every syncInterval and runs value-log
// GC every gcInterval, until Close. It also writes the in-flight claims
// held long enough (see persistAfter) and forgets lapsed ones.
func (b *Badger) background(gcInterval time.Duration) {
	defer close(b.loopDone)
	gc := time.NewTicker(gcInterval)
	defer gc.Stop()
	sync := time.NewTicker(syncInterval)
	defer sync.Stop()
	persist := time.NewTicker(persistInterval)
	defer persist.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-persist.C:
			b.persist(b.now(), false)
		case <-sync.C:
			b.claims.sweep(b.now())
			for _, logs := range b.logs {
				if err := logs.sync(); err != nil {
					b.logger.Warn("syncing webhook store", zap.String("dir", logs.dir), zap.Error(err))
				}
			}
		case <-gc.C:
			if n := b.collectValueLog(); n > 0 {
				b.logger.Debug("value log gc", zap.Int("files_rewritten", n))
			}
		}
	}
}

// logSyncer fsyncs the write-ahead logs (memtable and value-log files) of
// the Badger database in dir, which makes every write committed before a
// sync durable. Badger's own DB.Sync would not do: it syncs only the
// current memtable's log, and a write can sit in the log of a memtable
// that was just rotated out and is not yet flushed. A log that is gone was
// flushed to a table, which Badger syncs before it deletes the log.
//
// Badger does not sync the directory when it creates a log, so a power
// loss could drop a new log's name along with the writes in it: a sync
// that finds a log it has not seen before syncs the directory too. The
// logs stay open between syncs (Badger never reuses a log's name), and
// are closed once they are gone or the syncer is closed.
type logSyncer struct {
	dir     string
	syncDir func(dir string) error

	mu   sync.Mutex
	open map[string]*os.File // the logs found so far, their names synced
	seen map[string]bool     // scratch: the logs one sync finds
}

func newLogSyncer(dir string) *logSyncer {
	return &logSyncer{dir: dir, syncDir: syncFile, open: map[string]*os.File{}, seen: map[string]bool{}}
}

// sync fsyncs the logs and, if one is new, the directory.
func (s *logSyncer) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	clear(s.seen)
	fresh := false
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".mem") && !strings.HasSuffix(name, ".vlog") {
			continue
		}
		f, known := s.open[name]
		if !known {
			f, err = os.Open(filepath.Join(s.dir, name))
			if errors.Is(err, fs.ErrNotExist) {
				continue // flushed between the listing and now
			}
			if err != nil {
				return fmt.Errorf("syncing %s: %w", name, err)
			}
			s.open[name] = f
			fresh = true
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", name, err)
		}
		s.seen[name] = true
	}
	if fresh {
		if err := s.syncDir(s.dir); err != nil {
			s.closeAll() // so that the next sync finds them new again
			return fmt.Errorf("syncing directory %s: %w", s.dir, err)
		}
	}
	for name, f := range s.open {
		if !s.seen[name] {
			f.Close()
			delete(s.open, name)
		}
	}
	return nil
}

// close closes the logs held open.
func (s *logSyncer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeAll()
}

// closeAll closes and forgets the logs held open; s.mu must be held.
func (s *logSyncer) closeAll() {
	for name, f := range s.open {
		f.Close()
		delete(s.open, name)
	}
}

// syncFile fsyncs the file or directory at name.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	return err
}

// collectValueLog rewrites value-log files of both databases, as long as
// each pass finds one that is at least half garbage and Close has not
// begun, and returns how many it rewrote.
func (b *Badger) collectValueLog() int {
	n := 0
	for _, db := range []*badger.DB{b.dedupe, b.db} {
		n += b.collectOne(db)
	}
	return n
}

// collectOne is collectValueLog for one database.
func (b *Badger) collectOne(db *badger.DB) int {
	for n := 0; ; n++ {
		select {
		case <-b.stop:
			return n
		default:
		}
		if err := db.RunValueLogGC(gcDiscardRatio); err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				b.logger.Warn("value log gc failed", zap.String("dir", db.Opts().Dir), zap.Error(err))
			}
			return n
		}
	}
}

// dedupeKey is the database key of a dedupe claim.
func dedupeKey(key string) []byte {
	return append([]byte(dedupePrefix), key...)
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
