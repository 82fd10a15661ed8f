package store

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Dedupe on Badger keeps this process's in-flight claims in memory, the
// authority for them, and mirrors every claim into the dedupe database so
// that a process killed mid-delivery leaves its claims behind (case 34).
// Badger's directory lock means no other process writes these keys, so a
// claim needs no read-modify-write transaction: a write is a blind write,
// and the writes of all requests are applied together, in order, by one
// group (group.go). That turns the two transactions per request a naive store
// makes into a share of one batch.
//
// A claim stays in memory until the database reflects its end (done or
// released), so a Reserve that finds no claim in memory can trust the
// database: it holds only done records, claims left by an earlier process,
// and lapsed claims.

// claimShards is how many independently locked parts the in-flight table
// has.
const claimShards = 64

// inflight is a claim this process holds.
type inflight struct {
	token   string
	expires time.Time
	// settling is set while the claim's commit or release is being
	// written; the claim counts as in flight until it is gone.
	settling bool
}

// claimTable is the in-flight table, sharded by key.
type claimTable struct {
	seed   maphash.Seed
	shards [claimShards]struct {
		sync.Mutex
		m map[string]*inflight
	}
}

func newClaimTable() *claimTable {
	t := &claimTable{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = map[string]*inflight{}
	}
	return t
}

// lock locks key's shard and returns its map and the unlock function.
func (t *claimTable) lock(key string) (map[string]*inflight, func()) {
	s := &t.shards[maphash.String(t.seed, key)%claimShards]
	s.Lock()
	return s.m, s.Unlock
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
	m, unlock := b.claims.lock(key)
	if c, ok := m[key]; ok && (c.settling || now.Before(c.expires)) {
		claim := Claim{State: InFlight, Token: c.token, Expires: c.expires}
		unlock()
		return claim, false, nil
	}
	stored, found, err := b.storedClaim(key)
	if err != nil {
		unlock()
		return Claim{}, false, fmt.Errorf("reserving dedupe claim: %w", err)
	}
	if found && now.Before(stored.Expires) {
		unlock()
		return stored, false, nil
	}
	c := Claim{State: InFlight, Token: token, Expires: now.Add(lease)}
	m[key] = &inflight{token: token, expires: c.Expires}
	// Queued under the shard lock, like every write of the key, so the
	// writes of one key reach the database in the order they were made.
	pending := b.writer.queue(dedupeWrite{e: claimEntry(key, c, lease)})
	unlock()
	if err := <-pending; err != nil {
		m, unlock := b.claims.lock(key)
		if cur, ok := m[key]; ok && cur.token == token {
			delete(m, key)
		}
		unlock()
		return Claim{}, false, fmt.Errorf("reserving dedupe claim: %w", err)
	}
	return c, true, nil
}

// Extend implements Dedupe.
func (b *Badger) Extend(ctx context.Context, key, token string, lease time.Duration) error {
	if err := checkPositive("lease", lease); err != nil {
		return err
	}
	if err := checkClaimArgs(key, token); err != nil {
		return err
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	now := b.now()
	c, unlock, err := b.lockHeld(key, token, now)
	if err != nil {
		return err
	}
	c.expires = now.Add(lease)
	// Queued under the shard lock, so a commit or release that follows is
	// written after it.
	pending := b.writer.queue(dedupeWrite{e: claimEntry(key, Claim{State: InFlight, Token: token, Expires: c.expires}, lease)})
	unlock()
	if err := <-pending; err != nil {
		return fmt.Errorf("extending dedupe claim: %w", err)
	}
	return nil
}

// Commit implements Dedupe.
func (b *Badger) Commit(ctx context.Context, key, token string, resp Response, ttl time.Duration) error {
	if err := checkPositive("ttl", ttl); err != nil {
		return err
	}
	return b.settle(ctx, "committing", key, token, func(now time.Time) dedupeWrite {
		return dedupeWrite{e: claimEntry(key, Claim{State: Done, Expires: now.Add(ttl), Response: resp}, ttl)}
	})
}

// Release implements Dedupe.
func (b *Badger) Release(ctx context.Context, key, token string) error {
	return b.settle(ctx, "releasing", key, token, func(time.Time) dedupeWrite {
		return dedupeWrite{e: badger.NewEntry(dedupeKey(key), nil), del: true}
	})
}

// settle ends the live claim token holds on key: it makes the write that
// end returns and then forgets the claim. Until the write is applied the
// claim still counts as in flight.
func (b *Badger) settle(ctx context.Context, op, key, token string, end func(now time.Time) dedupeWrite) error {
	if err := checkClaimArgs(key, token); err != nil {
		return err
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	now := b.now()
	c, unlock, err := b.lockHeld(key, token, now)
	if err != nil {
		return err
	}
	c.settling = true
	pending := b.writer.queue(end(now))
	unlock()
	err = <-pending
	m, unlock := b.claims.lock(key)
	if err != nil {
		// Nothing was written: the claim is still held, as it was.
		c.settling = false
	} else {
		delete(m, key)
	}
	unlock()
	if err != nil {
		return fmt.Errorf("%s dedupe claim: %w", op, err)
	}
	return nil
}

// lockHeld locks key's shard and returns the claim token holds on it, or
// ErrNotOwner (with the shard unlocked) unless that claim is live at now and
// not being settled.
func (b *Badger) lockHeld(key, token string, now time.Time) (*inflight, func(), error) {
	m, unlock := b.claims.lock(key)
	c, ok := m[key]
	if !ok || c.token != token || c.settling || !now.Before(c.expires) {
		unlock()
		return nil, nil, ErrNotOwner
	}
	return c, unlock, nil
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

// dedupeWrite is a set of e, or a delete of its key if del.
type dedupeWrite struct {
	e   *badger.Entry
	del bool
}

// newDedupeWriter returns the group that applies dedupe writes to db:
// each batch is one transaction of blind writes, in queue order. It must
// be the only writer of the keys it writes.
func newDedupeWriter(db *badger.DB) *group[dedupeWrite] {
	return newGroup(func(batch []dedupeWrite) error { return applyWrites(db, batch) })
}

// applyWrites writes batch in as few transactions as Badger allows.
func applyWrites(db *badger.DB, batch []dedupeWrite) error {
	txn := db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for _, w := range batch {
		err := w.addTo(txn)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err = txn.Commit(); err != nil {
				return err
			}
			txn = db.NewTransaction(true)
			err = w.addTo(txn)
		}
		if err != nil {
			return err
		}
	}
	return txn.Commit()
}

// addTo adds w to txn. Badger checks the size before it takes the entry,
// so after ErrTxnTooBig the same entry can go into a new txn.
func (w dedupeWrite) addTo(txn *badger.Txn) error {
	if w.del {
		return txn.Delete(w.e.Key)
	}
	return txn.SetEntry(w.e)
}
