package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hookguard/hookguard/internal/wait"
)

// These tests sit inside the package to reach Badger's transactions and the
// GC pass; they cannot use storetest, which imports this package.

var testStart = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// TestReleasedClaimsStayGoneAfterGC: claims deleted after their large done
// records lapsed do not come back once value-log GC has rewritten the files
// that held those records, and the store reopened (case 53, badger #2286).
func TestReleasedClaimsStayGoneAfterGC(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newTestClock()
	// 1 MiB value-log files: 48 records of 80 KiB fill several, and each
	// record is over the 64 KiB value threshold, so it lives in the value log.
	b := openInternal(t, dir, clock.now, 1<<20)
	body := bytes.Repeat([]byte("x"), 80<<10)
	keys := make([]string, 48)
	for i := range keys {
		keys[i] = fmt.Sprintf("evt_%02d", i)
		if _, owned, err := b.Reserve(ctx, keys[i], "a", time.Minute); err != nil || !owned {
			t.Fatalf("Reserve %s: owned=%v err=%v", keys[i], owned, err)
		}
		if err := b.Commit(ctx, keys[i], "a", Response{Status: 200, Body: body}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// The records lapse; a retry claims each key again, holds it long
	// enough for the claim to be written, and fails upstream, so the
	// release deletes the key.
	clock.advance(time.Hour)
	for _, k := range keys {
		if _, owned, err := b.Reserve(ctx, k, "b", time.Minute); err != nil || !owned {
			t.Fatalf("Reserve %s after expiry: owned=%v err=%v", k, owned, err)
		}
	}
	clock.advance(persistAfter)
	b.persist(clock.now(), false)
	for _, k := range keys {
		if err := b.Release(ctx, k, "b"); err != nil {
			t.Fatal(err)
		}
	}
	// Closing compacts L0, which records how much of each value-log file is
	// garbage; the next open can then rewrite those files.
	mustClose(t, b)
	b = openInternal(t, dir, clock.now, 1<<20)
	if n := b.collectValueLog(); n == 0 {
		t.Fatal("value-log GC rewrote no file; the test proves nothing")
	}
	mustClose(t, b)

	// Reopen with the clock back at the start, when the done records were
	// live: a record that came back would be seen as done.
	clock.set(testStart)
	b = openInternal(t, dir, clock.now, 1<<20)
	err := b.dedupe.View(func(txn *badger.Txn) error {
		for _, k := range keys {
			if _, err := txn.Get(dedupeKey(k)); !errors.Is(err, badger.ErrKeyNotFound) {
				return fmt.Errorf("%s: Get = %v, want ErrKeyNotFound", k, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if c, owned, err := b.Reserve(ctx, k, "c", time.Minute); err != nil || !owned {
			t.Fatalf("Reserve %s after GC and reopen = (%v, %v, %v), want owned", k, c.State, owned, err)
		}
	}
}

// TestClaimWrittenOnceHeldLong: a claim reaches the database only once it
// has been held for persistAfter, so that it outlives a killed process
// (case 34); a younger one's release writes nothing, a written one's
// release deletes it, and the background loop does the writing.
func TestClaimWrittenOnceHeldLong(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	now := clock.now
	b := openInternal(t, t.TempDir(), now, 0)
	stored := func(key string) (Claim, bool) {
		t.Helper()
		c, found, err := b.storedClaim(key)
		if err != nil {
			t.Fatal(err)
		}
		return c, found
	}

	if _, owned, err := b.Reserve(ctx, "slow", "a", time.Minute); err != nil || !owned {
		t.Fatalf("Reserve slow: owned=%v err=%v", owned, err)
	}
	clock.advance(persistAfter)
	if _, owned, err := b.Reserve(ctx, "fast", "a", time.Minute); err != nil || !owned {
		t.Fatalf("Reserve fast: owned=%v err=%v", owned, err)
	}
	wait.Until(t, 5*time.Second, func() bool { _, found := stored("slow"); return found })
	if c, _ := stored("slow"); c.State != InFlight || c.Token != "a" || !c.Expires.Equal(testStart.Add(time.Minute)) {
		t.Fatalf("written claim = %+v", c)
	}
	if _, found := stored("fast"); found {
		t.Fatal("a claim younger than persistAfter was written")
	}

	// A written claim's extension is written too; an unwritten one's not.
	if err := b.Extend(ctx, "slow", "a", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if c, _ := stored("slow"); !c.Expires.Equal(now().Add(2 * time.Minute)) {
		t.Fatalf("after Extend the stored lease ends %v, want %v", c.Expires, now().Add(2*time.Minute))
	}
	if err := b.Extend(ctx, "fast", "a", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, found := stored("fast"); found {
		t.Fatal("extending an unwritten claim wrote it")
	}

	for _, k := range []string{"slow", "fast"} {
		if err := b.Release(ctx, k, "a"); err != nil {
			t.Fatal(err)
		}
		if _, found := stored(k); found {
			t.Fatalf("%s is still stored after its release", k)
		}
		if _, owned, err := b.Reserve(ctx, k, "b", time.Minute); err != nil || !owned {
			t.Fatalf("Reserve %s after release: owned=%v err=%v", k, owned, err)
		}
	}
}

// TestDedupeReadsAnUnmanagedDatabase: a dedupe database written by an
// earlier build, which let Badger number its commits, opens in managed
// mode with its records intact, and later writes shadow them.
func TestDedupeReadsAnUnmanagedDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, "dedupe")).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	done := Claim{State: Done, Expires: testStart.Add(time.Hour), Response: Response{Status: 200}}
	for range 3 { // several versions, so the old database's counter moves on
		if err := old.Update(func(txn *badger.Txn) error { return txn.SetEntry(claimEntry("evt", done, time.Hour)) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	clock := newTestClock()
	b := openInternal(t, dir, clock.now, 0)
	if c, owned, err := b.Reserve(ctx, "evt", "a", time.Minute); err != nil || owned || c.State != Done {
		t.Fatalf("Reserve of the old done record = (%+v, %v, %v), want done", c, owned, err)
	}
	clock.advance(2 * time.Hour)
	if _, owned, err := b.Reserve(ctx, "evt", "a", time.Minute); err != nil || !owned {
		t.Fatalf("Reserve after the record lapsed: owned=%v err=%v", owned, err)
	}
	if err := b.Commit(ctx, "evt", "a", Response{Status: 201}, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustClose(t, b)
	b = openInternal(t, dir, clock.now, 0)
	if c, _, err := b.Reserve(ctx, "evt", "b", time.Minute); err != nil || c.Response.Status != 201 {
		t.Fatalf("after reopen: %+v %v, want the new done record (201)", c, err)
	}
}

// TestCommitThatFailsToWrite: Commit returns before its record is
// written, and duplicates are answered with the record meanwhile; if the
// write then fails, the failure is logged and the claim is held again, so
// a retry is forwarded once its lease lapses instead of being answered
// with a record that was never stored.
func TestCommitThatFailsToWrite(t *testing.T) {
	ctx := context.Background()
	core, logs := observer.New(zapcore.WarnLevel)
	clock := newTestClock()
	// A 1 MiB value log cannot take a 2 MiB answer, so its write fails.
	var failed atomic.Int32
	b, err := OpenBadger(t.TempDir(), BadgerOptions{Logger: zap.New(core), Now: clock.now, valueLogFileSize: 1 << 20,
		CommitFailed: func(error) { failed.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer mustClose(t, b)
	if _, owned, err := b.Reserve(ctx, "evt", "a", time.Minute); err != nil || !owned {
		t.Fatalf("Reserve: owned=%v err=%v", owned, err)
	}
	if err := b.Commit(ctx, "evt", "a", Response{Status: 200, Body: make([]byte, 2<<20)}, time.Hour); err != nil {
		t.Fatalf("Commit = %v, want nil: the write is only queued", err)
	}
	wait.Until(t, 5*time.Second, func() bool { return logs.FilterMessage("recording a delivered webhook").Len() == 1 })
	if n := failed.Load(); n != 1 {
		t.Fatalf("CommitFailed called %d times, want once", n)
	}
	c, owned, err := b.Reserve(ctx, "evt", "b", time.Minute)
	if err != nil || owned || c.State != InFlight || c.Token != "a" {
		t.Fatalf("after the failed write: (%+v, %v, %v), want a's claim in flight", c, owned, err)
	}
	clock.advance(time.Minute)
	if _, owned, err := b.Reserve(ctx, "evt", "b", time.Minute); err != nil || !owned {
		t.Fatalf("after the lease: owned=%v err=%v, want the retry to own it", owned, err)
	}
}

// TestCommitWaitsForRoom: with maxPendingCommits done records queued and
// not yet written, Commit waits for one of them, and gives up with its
// context, leaving the claim held.
func TestCommitWaitsForRoom(t *testing.T) {
	ctx := context.Background()
	b := openInternal(t, t.TempDir(), newTestClock().now, 0)
	if _, owned, err := b.Reserve(ctx, "evt", "a", time.Minute); err != nil || !owned {
		t.Fatalf("Reserve: owned=%v err=%v", owned, err)
	}
	for range maxPendingCommits { // as if that many were being written
		b.commits <- struct{}{}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.Commit(short, "evt", "a", Response{Status: 200}, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Commit with no room = %v, want the context's deadline", err)
	}
	if c, _, _ := b.Reserve(ctx, "evt", "b", time.Minute); c.State != InFlight {
		t.Fatalf("after the refused commit: %+v, want the claim still in flight", c)
	}
	<-b.commits // one write is done
	if err := b.Commit(ctx, "evt", "a", Response{Status: 200}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := b.Reserve(ctx, "evt", "b", time.Minute); c.State != Done {
		t.Fatalf("after the commit: %+v, want done", c)
	}
	for range maxPendingCommits - 1 {
		<-b.commits
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, c := range []Claim{
		{State: InFlight, Token: "tok_1", Expires: testStart.Add(time.Nanosecond)},
		{State: Done, Expires: testStart, Response: Response{Status: 204}},
		{State: Done, Expires: testStart, Response: Response{
			Status: 200, ContentType: "application/json; charset=utf-8", Body: []byte{0, 1, 0xfe, 0xff},
		}},
		{State: Done, Token: "kept", Expires: time.Unix(0, 0), Response: Response{Status: -1, Body: bytes.Repeat([]byte{7}, 300)}},
	} {
		got, err := decodeClaim(encodeClaim(c))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", c, err)
		}
		if got.State != c.State || got.Token != c.Token || !got.Expires.Equal(c.Expires) ||
			got.Response.Status != c.Response.Status || got.Response.ContentType != c.Response.ContentType ||
			!bytes.Equal(got.Response.Body, c.Response.Body) {
			t.Fatalf("round trip: got %+v, want %+v", got, c)
		}
	}
}

func TestCodecRejectsCorruptRecords(t *testing.T) {
	valid := encodeClaim(Claim{State: Done, Token: "t", Expires: testStart, Response: Response{Status: 200, ContentType: "text/plain"}})
	unknownState := bytes.Clone(valid)
	unknownState[1] = 9
	badFormat := bytes.Clone(valid)
	badFormat[0] = claimFormat + 1
	for name, p := range map[string][]byte{
		"empty":              nil,
		"short header":       valid[:9],
		"unknown format":     badFormat,
		"unknown state":      unknownState,
		"no token length":    valid[:10],
		"token overruns":     append(bytes.Clone(valid[:10]), 50, 't'),
		"no status":          valid[:12],
		"content type short": valid[:len(valid)-1],
	} {
		if _, err := decodeClaim(p); !errors.Is(err, errCorruptClaim) {
			t.Errorf("%s: decode error %v, want errCorruptClaim", name, err)
		}
	}
}

func TestBadgerLoggerKeepsWarningsAndErrors(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	l := badgerLogger{zap.New(core)}
	l.Debugf("debug %d", 1)
	l.Infof("info %d", 2)
	l.Warningf("warning %d\n", 3)
	l.Errorf("error %d\n", 4)
	got := logs.AllUntimed()
	if len(got) != 2 ||
		got[0].Level != zapcore.WarnLevel || got[0].Message != "warning 3" ||
		got[1].Level != zapcore.ErrorLevel || got[1].Message != "error 4" {
		t.Fatalf("logged %+v, want the warning and the error, trimmed", got)
	}
}

// testClock is a clock that tests move while the store's background loop
// reads it.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.set(testStart)
	return c
}

func (c *testClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func openInternal(t *testing.T, dir string, now func() time.Time, valueLogFileSize int64) *Badger {
	t.Helper()
	b, err := OpenBadger(dir, BadgerOptions{Logger: zaptest.NewLogger(t), Now: now, valueLogFileSize: valueLogFileSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func mustClose(t *testing.T, b *Badger) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpensAMemtableOfAnEarlierSize: a memtable that a killed process left
// unflushed, written under a larger MemTableSize than today's, is replayed
// whole when the store opens.
func TestOpensAMemtableOfAnEarlierSize(t *testing.T) {
	live := filepath.Join(t.TempDir(), "outbound")
	old, err := badger.Open(badger.DefaultOptions(live).WithLogger(nil).WithMemTableSize(16 << 20).WithValueLogFileSize(1 << 20))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	value := bytes.Repeat([]byte("v"), 1000)
	wb := old.NewWriteBatch()
	for i := range 8000 { // about 8 MB: more than today's memtable holds
		if err := wb.Set(fmt.Appendf(nil, "k%05d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	// What a kill -9 leaves: the files as they are, memtable unflushed.
	crashed := t.TempDir()
	copyDir(t, live, filepath.Join(crashed, "outbound"))

	b := openInternal(t, crashed, time.Now, 0)
	err = b.db.View(func(txn *badger.Txn) error {
		for _, i := range []int{0, 7999} {
			if _, err := txn.Get(fmt.Appendf(nil, "k%05d", i)); err != nil {
				return fmt.Errorf("k%05d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the files of src, but Badger's lock, into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "LOCK" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
