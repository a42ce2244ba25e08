package meeting

import (
	"time"

	"github.com/meridian-video/meridian/internal/ratelimit"
)

// RateLimit is a token bucket: Burst attempts at once, then one more every Every.
type RateLimit = ratelimit.Rate

// Limits bound how fast anyone can guess meeting ids, passcodes and join links. Only
// failed attempts (an unknown id, a wrong passcode, a link that does not verify) take a
// token. The buckets that refuse are keyed by the client address (an IPv6 address by its
// /64), alone or with the meeting id, so that guesses from elsewhere never keep a guest
// with the passcode out; the ceiling per meeting only slows. docs/security.md has the
// arithmetic. The buckets live in memory, per node.
type Limits struct {
	// JoinPerIP counts a client address's failures across all meetings; over it, every
	// attempt of that address is refused.
	JoinPerIP RateLimit
	// JoinPerSite counts the failures of an IPv6 site (a /48, see ratelimit.SiteKey)
	// across all meetings, so that one customer's 65,536 /64s are not as many clients;
	// over it, every attempt of the site is refused.
	JoinPerSite RateLimit
	// JoinPerMeetingIP counts a client address's failures against one meeting; over it,
	// that address's attempts at that meeting are refused.
	JoinPerMeetingIP RateLimit
	// JoinPerMeeting is the ceiling of failures against one meeting id from all
	// addresses. Over it attempts are not refused but wait their turn, at most
	// JoinMaxDelay each (no wait when zero), so that many addresses guessing one
	// meeting's passcode gain little and its guests still get in.
	JoinPerMeeting RateLimit
	JoinMaxDelay   time.Duration
	// MaxKeys bounds the keys each set of buckets remembers.
	MaxKeys int
}

// DefaultLimits are the limits of a Service whose Options name none.
func DefaultLimits() Limits {
	return Limits{
		JoinPerIP:        RateLimit{Every: 6 * time.Second, Burst: 20},
		JoinPerSite:      RateLimit{Every: 1200 * time.Millisecond, Burst: 100},
		JoinPerMeetingIP: RateLimit{Every: 5 * time.Minute, Burst: 5},
		JoinPerMeeting:   RateLimit{Every: 2 * time.Second, Burst: 30},
		JoinMaxDelay:     3 * time.Second,
		MaxKeys:          10_000,
	}
}
