package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// Dedupe on Badger keeps this process's in-flight claims in memory, the
// authority for them, and writes done records to the dedupe database.
// Badger's directory lock means no other process writes these keys, so no
// write needs a read-modify-write transaction: each is a blind write, and
// the writes of all requests are applied together, in order, by one group
// (group.go).
//
// A claim reaches the database only once it has been held for
// persistAfter: most deliveries are answered sooner, and for them the
// claim costs no write at all. A claim that outlives that (a slow
// upstream) is written, so that if the process is killed mid-delivery the
// claim survives it and a retry is not forwarded while the upstream may
// still be working on the first copy; it lapses with its lease (case 34).
// A younger claim dies with the process, and a retry after the restart is
// forwarded.
//
// Commit queues the done record and returns: the request's answer does
// not wait for the write. A claim stays in memory until the database
// reflects its end (done, or released if it was written), so a Reserve
// that finds no claim in memory can trust the database: it holds only done
// records, claims left by an earlier process, and lapsed claims.

// claimShards is how many independently locked parts the in-flight table
// has.
const claimShards = 64

// maxPendingCommits bounds the done records queued but not yet written:
// past it, Commit waits for room, so a store that writes slower than
// requests are answered holds them back instead of queueing without end.
const maxPendingCommits = 1024

// persistAfter is how long a claim is held before it is written to the
// database; persistInterval is how often held claims are checked for it.
const (
	persistAfter    = 100 * time.Millisecond
	persistInterval = 50 * time.Millisecond
)

// inflight is a claim this process holds.
type inflight struct {
	token   string
	expires time.Time
	since   time.Time // when it was claimed
	// written is set once the claim's write is queued; from then on its
	// extensions and its release are written too.
	written bool
	// settling is set while the claim's commit or release is being
	// written; the claim counts as in flight until it is gone.
	settling bool
	// done is the done record being written by a commit: from the commit
	// on, duplicates are answered with it.
	done *Claim
}

// claimTable is the in-flight table, sharded by key.
type claimTable struct {
	seed   maphash.Seed
	shards [claimShards]claimShard
}

// claimShard is one part of the table; its lock guards m and the claims in it.
type claimShard struct {
	sync.Mutex
	m map[string]*inflight
}

func newClaimTable() *claimTable {
	t := &claimTable{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = map[string]*inflight{}
	}
	return t
}

// lock locks key's shard and returns it.
func (t *claimTable) lock(key string) *claimShard {
	s := &t.shards[maphash.String(t.seed, key)%claimShards]
	s.Lock()
	return s
}

// sweep forgets lapsed claims whose holder never settled them.
func (t *claimTable) sweep(now time.Time) {
	for i := range t.shards {
		s := &t.shards[i]
		s.Lock()
		for k, c := range s.m {
			if !c.settling && !now.Before(c.expires) {
				delete(s.m, k)
			}
		}
		s.Unlock()
	}
}

// persist queues the write of every live claim held for persistAfter at
// now and not yet written. With all set, it writes every live claim: Close
// uses that, so that the claims of deliveries still under way outlive the
// process.
func (b *Badger) persist(now time.Time, all bool) {
	cutoff := now.Add(-persistAfter)
	for i := range b.claims.shards {
		s := &b.claims.shards[i]
		s.Lock()
		for k, c := range s.m {
			if c.written || c.settling || !now.Before(c.expires) || (!all && c.since.After(cutoff)) {
				continue
			}
			c.written = true
			// Not waited for: a failed write only leaves the claim in
			// memory, where it is still the authority.
			b.writer.queue(dedupeWrite{e: claimEntry(k, Claim{State: InFlight, Token: c.token, Expires: c.expires}, c.expires.Sub(now))})
		}
		s.Unlock()
	}
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
	now := b.now()
	s := b.claims.lock(key)
	defer s.Unlock()
	if c, ok := s.m[key]; ok {
		switch {
		case c.done != nil && now.Before(c.done.Expires):
			return *c.done, false, nil
		case c.done == nil && (c.settling || now.Before(c.expires)):
			return Claim{State: InFlight, Token: c.token, Expires: c.expires}, false, nil
		}
		// A lapsed claim, or a done record that lapsed before it was
		// written: the key is free. A write of the new claim would be
		// queued after the record's, as writes of a key are.
	}
	stored, found, err := b.storedClaim(key)
	if err != nil {
		return Claim{}, false, fmt.Errorf("reserving dedupe claim: %w", err)
	}
	if found && now.Before(stored.Expires) {
		return stored, false, nil
	}
	c := Claim{State: InFlight, Token: token, Expires: now.Add(lease)}
	s.m[key] = &inflight{token: token, expires: c.Expires, since: now}
	return c, true, nil
}

// Extend implements Dedupe.
func (b *Badger) Extend(ctx context.Context, key, token string, lease time.Duration) error {
	if err := checkPositive("lease", lease); err != nil {
		return err
	}
	s, c, now, err := b.lockOwn(ctx, key, token)
	if err != nil {
		return err
	}
	defer b.mu.RUnlock()
	c.expires = now.Add(lease)
	if !c.written {
		s.Unlock()
		return nil
	}
	// Queued under the shard lock, like every write of the key, so the
	// writes of one key reach the database in the order they were made.
	pending := b.writer.queue(dedupeWrite{e: claimEntry(key, Claim{State: InFlight, Token: token, Expires: c.expires}, lease)})
	s.Unlock()
	if err := <-pending; err != nil {
		return fmt.Errorf("extending dedupe claim: %w", err)
	}
	return nil
}

// Commit implements Dedupe. It returns once the done record is queued for
// the database, not written: until it is, the claim stays in memory and
// answers duplicates with the record. The request's answer so goes out
// without waiting for the write. If the write fails, the failure is
// logged and reported to BadgerOptions.CommitFailed, and the claim is held
// again, as before the commit, until its lease lapses and a retry is
// forwarded.
func (b *Badger) Commit(ctx context.Context, key, token string, resp Response, ttl time.Duration) error {
	if err := checkPositive("ttl", ttl); err != nil {
		return err
	}
	select {
	case b.commits <- struct{}{}: // a slot, given back once written
	case <-ctx.Done():
		return ctx.Err()
	}
	s, c, now, err := b.lockOwn(ctx, key, token)
	if err != nil {
		<-b.commits
		return err
	}
	defer b.mu.RUnlock()
	defer s.Unlock()
	resp.Body = bytes.Clone(resp.Body) // the caller may reuse its slice
	done := Claim{State: Done, Expires: now.Add(ttl), Response: resp}
	err = b.writer.queueFunc(dedupeWrite{e: claimEntry(key, done, ttl)}, func(err error) {
		<-b.commits
		s.Lock()
		if err != nil {
			c.settling, c.done = false, nil
		} else if s.m[key] == c {
			delete(s.m, key)
		}
		s.Unlock()
		if err != nil {
			b.logger.Warn("recording a delivered webhook", zap.String("key", key), zap.Error(err))
			b.commitFailed(err)
		}
	})
	if err != nil {
		<-b.commits
		return fmt.Errorf("committing dedupe claim: %w", err)
	}
	c.settling, c.done = true, &done
	return nil
}

// Release implements Dedupe. A claim that was never written is only
// forgotten; a written one is deleted, and counts as in flight until the
// delete is applied.
func (b *Badger) Release(ctx context.Context, key, token string) error {
	s, c, _, err := b.lockOwn(ctx, key, token)
	if err != nil {
		return err
	}
	defer b.mu.RUnlock()
	if !c.written {
		delete(s.m, key)
		s.Unlock()
		return nil
	}
	c.settling = true
	pending := b.writer.queue(dedupeWrite{e: badger.NewEntry(dedupeKey(key), nil), del: true})
	s.Unlock()
	err = <-pending
	s.Lock()
	if err != nil {
		// Nothing was written: the claim is still held, as it was.
		c.settling = false
	} else {
		delete(s.m, key)
	}
	s.Unlock()
	if err != nil {
		return fmt.Errorf("releasing dedupe claim: %w", err)
	}
	return nil
}

// lockOwn checks key and token, takes b.mu shared, locks key's shard and
// returns it, the claim token holds there and the time. It fails with
// ErrNotOwner unless that claim is live and not being settled. On success
// the caller must unlock the shard and release b.mu with b.mu.RUnlock.
func (b *Badger) lockOwn(ctx context.Context, key, token string) (*claimShard, *inflight, time.Time, error) {
	if err := checkClaimArgs(key, token); err != nil {
		return nil, nil, time.Time{}, err
	}
	if err := b.acquire(ctx); err != nil {
		return nil, nil, time.Time{}, err
	}
	now := b.now()
	s := b.claims.lock(key)
	c, ok := s.m[key]
	if !ok || c.token != token || c.settling || !now.Before(c.expires) {
		s.Unlock()
		b.mu.RUnlock()
		return nil, nil, time.Time{}, ErrNotOwner
	}
	return s, c, now, nil
}

// storedClaim reads key's claim from the dedupe database.
func (b *Badger) storedClaim(key string) (Claim, bool, error) {
	var (
		c     Claim
		found bool
	)
	err := b.dedupe.View(func(txn *badger.Txn) error {
		item, err := txn.Get(dedupeKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		c, err = decodeClaim(v)
		found = err == nil
		return err
	})
	return c, found, err
}

// claimEntry is the database entry of c. Badger's TTL is life plus
// ttlMargin: a backstop for garbage, never what decides expiry.
func claimEntry(key string, c Claim, life time.Duration) *badger.Entry {
	return badger.NewEntry(dedupeKey(key), encodeClaim(c)).WithTTL(life + ttlMargin)
}

// dedupeWrite is a set of e, or a delete of its key if del. Without e it
// writes nothing: its result says that the writes queued before it are
// applied.
type dedupeWrite struct {
	e   *badger.Entry
	del bool
}

// newDedupeWriter returns the group that applies dedupe writes to db, a
// managed-mode database: each batch is one transaction of blind writes, in
// queue order, committed at the version after the last one. It must be
// the only writer of db. Reads are made at the highest version, so they
// see every write applied.
func newDedupeWriter(db *badger.DB) *group[dedupeWrite] {
	last := db.MaxVersion() // only the group's goroutine touches it
	return newGroup(func(batch []dedupeWrite) error { return applyWrites(db, &last, batch) }, 0)
}

// applyWrites writes batch in as few transactions as Badger allows.
func applyWrites(db *badger.DB, last *uint64, batch []dedupeWrite) error {
	txn := db.NewTransactionAt(math.MaxUint64, true)
	defer func() { txn.Discard() }()
	for _, w := range batch {
		err := w.addTo(txn)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err = commitAt(db, txn, last); err != nil {
				return err
			}
			txn = db.NewTransactionAt(math.MaxUint64, true)
			err = w.addTo(txn)
		}
		if err != nil {
			return err
		}
	}
	return commitAt(db, txn, last)
}

// commitAt commits txn at the version after *last. No read is ever made
// at an older version, so compaction may then drop every version the
// commit shadows.
func commitAt(db *badger.DB, txn *badger.Txn, last *uint64) error {
	*last++
	if err := txn.CommitAt(*last, nil); err != nil {
		return err
	}
	db.SetDiscardTs(*last)
	return nil
}

// addTo adds w to txn. Badger checks the size before it takes the entry,
// so after ErrTxnTooBig the same entry can go into a new txn.
func (w dedupeWrite) addTo(txn *badger.Txn) error {
	if w.e == nil {
		return nil
	}
	if w.del {
		return txn.Delete(w.e.Key)
	}
	return txn.SetEntry(w.e)
}
