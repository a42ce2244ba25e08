// Package ratelimit bounds how fast anyone can guess: token buckets keyed by what is
// being guessed at (an account's email, a client address, a meeting id, or a pair of
// them), bounded in memory, counting attempts in flight. A bucket either refuses (Begin)
// or, for a ceiling that must never lock the rightful owner out, only slows (Slow). The
// buckets live in memory, per node.
package ratelimit

import (
	"context"
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: Burst attempts at once, then one more every Every.
type Rate struct {
	Every time.Duration
	Burst int
}

// Set is a bounded map of token buckets keyed by a string (an email address, a client
// address, a meeting id). Attempts in flight count, so a burst of parallel guesses cannot
// overdraw a bucket.
type Set struct {
	limit rate.Limit
	burst int
	max   int

	mu sync.Mutex
	m  map[string]*Bucket
}

// Bucket is one key's token bucket, held by an attempt between Begin and End.
type Bucket struct {
	lim      *rate.Limiter
	inflight int       // attempts begun and not yet ended; guarded by Set.mu
	seen     time.Time // last begin; guarded by Set.mu
}

// NewSet returns a set of buckets of rate rl remembering at most maxKeys keys (10,000 when
// not positive).
func NewSet(rl Rate, maxKeys int) *Set {
	if rl.Burst <= 0 {
		rl.Burst = 1
	}
	lim := rate.Inf
	if rl.Every > 0 {
		lim = rate.Every(rl.Every)
	}
	if maxKeys <= 0 {
		maxKeys = 10_000
	}
	return &Set{limit: lim, burst: rl.Burst, max: maxKeys, m: make(map[string]*Bucket)}
}

// Begin starts an attempt for key at now. It returns the bucket to pass to End, or nil and
// how long to wait when the key has no token to spare.
func (ls *Set) Begin(key string, now time.Time) (*Bucket, time.Duration) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	b := ls.bucket(key, now)
	if wait := ls.shortfall(b, now); wait > 0 {
		return nil, wait
	}
	b.inflight++
	return b, 0
}

// Slow starts an attempt for key at now that is never refused: it returns the bucket to
// pass to End and how long the attempt should wait first, which is zero while the key has
// tokens to spare and otherwise the time until its turn, at most maxDelay. Attempts in
// flight count, so parallel attempts queue up behind each other (until maxDelay). A
// ceiling of this kind spaces out the guesses of many clients at one target without ever
// refusing the one who knows the secret.
func (ls *Set) Slow(key string, now time.Time, maxDelay time.Duration) (*Bucket, time.Duration) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	b := ls.bucket(key, now)
	wait := min(ls.shortfall(b, now), max(maxDelay, 0))
	b.inflight++
	return b, wait
}

// bucket returns key's bucket, made (and room made for it) if new. Called with ls.mu held.
func (ls *Set) bucket(key string, now time.Time) *Bucket {
	b := ls.m[key]
	if b == nil {
		if len(ls.m) >= ls.max {
			ls.evict(now)
		}
		b = &Bucket{lim: rate.NewLimiter(ls.limit, ls.burst)}
		ls.m[key] = b
	}
	b.seen = now
	return b
}

// shortfall is how long until b has a token for one more attempt beside those in flight;
// zero when it has one now. Called with ls.mu held.
func (ls *Set) shortfall(b *Bucket, now time.Time) time.Duration {
	if ls.limit == rate.Inf {
		return 0
	}
	missing := float64(b.inflight+1) - b.lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(missing / float64(ls.limit) * float64(time.Second)))
}

// End finishes an attempt that Begin allowed; a failed attempt takes a token.
func (ls *Set) End(b *Bucket, now time.Time, failed bool) {
	if b == nil {
		return
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	b.inflight--
	if failed {
		b.lim.AllowN(now, 1)
	}
}

// Take begins and ends a failed attempt at once: it spends a token if there is one and
// reports whether there was, or how long to wait for one.
func (ls *Set) Take(key string, now time.Time) (bool, time.Duration) {
	b, wait := ls.Begin(key, now)
	ls.End(b, now, true)
	return b != nil, wait
}

// evict makes room for a new key: first by forgetting every idle bucket that has refilled
// (it remembers nothing a new one would not), and failing that the least recently used
// idle bucket. Called with ls.mu held.
func (ls *Set) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, b := range ls.m {
		if b.inflight > 0 {
			continue
		}
		if ls.limit == rate.Inf || b.lim.TokensAt(now) >= float64(ls.burst) {
			delete(ls.m, k)
			continue
		}
		if oldestKey == "" || b.seen.Before(oldest) {
			oldestKey, oldest = k, b.seen
		}
	}
	if len(ls.m) >= ls.max && oldestKey != "" {
		delete(ls.m, oldestKey)
	}
}

// Size is how many keys the set remembers.
func (ls *Set) Size() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.m)
}

// SiteKey is the bucket key of the site an IPv6 address belongs to, its /48 (what one
// customer is usually given: 65,536 /64s), and false for an IPv4 address, which is its own
// site. Limits per site keep one customer's many /64s from counting as many clients.
func SiteKey(addr string) (string, bool) {
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Unmap().Is6() {
		return "", false
	}
	p, _ := ip.Unmap().Prefix(48)
	return p.String(), true
}

// PairKey is the bucket key of one client address (by IPKey) guessing at one target (an
// email address, a meeting id): the key of limits that hold back a guesser without
// holding back anyone else trying the same target.
func PairKey(target, addr string) string {
	return IPKey(addr) + " " + target
}

// IPKey is the bucket key of a client address: an IPv4 address as it is, an IPv6 address
// by its /64 (one subscriber's usual allocation), anything unparseable as given.
func IPKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// Sleep waits d, or until ctx ends (returning its error): the wait that Slow asks for.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
