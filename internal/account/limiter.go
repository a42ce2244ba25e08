package account

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: Burst attempts at once, then one more every Every.
type RateLimit struct {
	Every time.Duration
	Burst int
}

// Limits bound what one client can try. The buckets live in memory, per node: a restart
// forgets them, and each node of a region counts on its own.
type Limits struct {
	// SignInPerEmail and SignInPerIP count failed sign-ins (and failed current-password
	// checks); an attempt is refused while either bucket is empty. Attempts in flight
	// count too, so a burst of parallel guesses cannot overdraw a bucket.
	SignInPerEmail RateLimit
	SignInPerIP    RateLimit
	// SignUpPerIP counts sign-ups, successful or not: each costs a password hash.
	SignUpPerIP RateLimit
	// ResetPerEmail counts password-reset requests; over it, requests are silently
	// dropped, so that nobody can fill a mailbox with reset mails.
	ResetPerEmail RateLimit
	// MaxKeys bounds the keys (addresses, emails) each set of buckets remembers.
	MaxKeys int
}

// DefaultLimits are the limits of a Service whose Options name none.
func DefaultLimits() Limits {
	return Limits{
		SignInPerEmail: RateLimit{Every: time.Minute, Burst: 5},
		SignInPerIP:    RateLimit{Every: 6 * time.Second, Burst: 20},
		SignUpPerIP:    RateLimit{Every: time.Minute, Burst: 10},
		ResetPerEmail:  RateLimit{Every: 20 * time.Minute, Burst: 3},
		MaxKeys:        10_000,
	}
}

// limiterSet is a bounded map of token buckets keyed by a string (an email address, a
// client address).
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
// how long to wait when the key has no token to spare.
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

// take begins and ends a failed attempt at once: it spends a token if there is one and
// reports whether there was, or how long to wait for one.
func (ls *limiterSet) take(key string, now time.Time) (bool, time.Duration) {
	b, wait := ls.begin(key, now)
	ls.end(b, now, true)
	return b != nil, wait
}

// evict makes room for a new key: first by forgetting every idle bucket that has refilled
// (it remembers nothing a new one would not), and failing that the least recently used
// idle bucket. Called with ls.mu held.
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
