package meeting

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: Burst failed attempts at once, then one more every Every.
type RateLimit struct {
	Every time.Duration
	Burst int
}

// Limits bound how fast anyone can guess meeting ids, passcodes and join links. Only
// failed attempts (an unknown id, a wrong passcode, a link that does not verify) take a
// token; while a bucket is empty every attempt it covers is refused, right or wrong. The
// buckets live in memory, per node.
type Limits struct {
	// JoinPerIP counts a client address's failures across all meetings (an IPv6 address
	// by its /64).
	JoinPerIP RateLimit
	// JoinPerMeeting counts failures against one meeting id from all addresses, so that
	// many addresses guessing one meeting's passcode gain nothing.
	JoinPerMeeting RateLimit
	// MaxKeys bounds the keys each set of buckets remembers.
	MaxKeys int
}

// DefaultLimits are the limits of a Service whose Options name none.
func DefaultLimits() Limits {
	return Limits{
		JoinPerIP:      RateLimit{Every: 6 * time.Second, Burst: 20},
		JoinPerMeeting: RateLimit{Every: 2 * time.Second, Burst: 30},
		MaxKeys:        10_000,
	}
}

// limiterSet is a bounded map of token buckets keyed by a string.
type limiterSet struct {
	limit rate.Limit
	burst int
	max   int

	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	lim      *rate.Limiter
	inflight int       // attempts begun and not yet ended; guarded by limiterSet.mu
	seen     time.Time // last begin; guarded by limiterSet.mu
}

func newLimiterSet(rl RateLimit, maxKeys int) *limiterSet {
	if rl.Burst <= 0 {
		rl.Burst = 1
	}
	lim := rate.Inf
	if rl.Every > 0 {
		lim = rate.Every(rl.Every)
	}
	if maxKeys <= 0 {
		maxKeys = DefaultLimits().MaxKeys
	}
	return &limiterSet{limit: lim, burst: rl.Burst, max: maxKeys, m: make(map[string]*bucket)}
}

// begin starts an attempt for key at now. It returns the bucket to pass to end, or nil and
// how long to wait when the key has no token to spare. Attempts in flight count, so that
// a burst of parallel guesses cannot overdraw a bucket.
func (ls *limiterSet) begin(key string, now time.Time) (*bucket, time.Duration) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	b := ls.m[key]
	if b == nil {
		if len(ls.m) >= ls.max {
			ls.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(ls.limit, ls.burst)}
		ls.m[key] = b
	}
	b.seen = now
	if ls.limit != rate.Inf {
		if missing := float64(b.inflight+1) - b.lim.TokensAt(now); missing > 0 {
			return nil, time.Duration(math.Ceil(missing / float64(ls.limit) * float64(time.Second)))
		}
	}
	b.inflight++
	return b, 0
}

// end finishes an attempt that begin allowed; a failed attempt takes a token.
func (ls *limiterSet) end(b *bucket, now time.Time, failed bool) {
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

// evict makes room for a new key: it forgets every idle bucket that has refilled, and
// failing that the least recently used idle one. Called with ls.mu held.
func (ls *limiterSet) evict(now time.Time) {
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

// size is how many keys the set remembers.
func (ls *limiterSet) size() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.m)
}

// ipKey is the bucket key of a client address: an IPv4 address as it is, an IPv6 address
// by its /64 (one subscriber's usual allocation), anything unparseable as given.
func ipKey(addr string) string {
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
