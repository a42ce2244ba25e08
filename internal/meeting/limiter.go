package meeting

import (
	"time"

	"github.com/meridian-video/meridian/internal/ratelimit"
)

// RateLimit is a token bucket: Burst attempts at once, then one more every Every.
type RateLimit = ratelimit.Rate

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
