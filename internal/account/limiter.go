package account

import (
	"time"

	"github.com/meridian-video/meridian/internal/ratelimit"
)

// RateLimit is a token bucket: Burst attempts at once, then one more every Every.
type RateLimit = ratelimit.Rate

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
