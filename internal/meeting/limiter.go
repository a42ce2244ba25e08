package meeting

import (
	"context"
	"fmt"
	"time"

	"github.com/meridian-video/meridian/internal/ratelimit"
	"github.com/meridian-video/meridian/internal/store"
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

// joinGate holds the buckets one join attempt counts against, from beginJoin to end.
type joinGate struct {
	s                          *Service
	site, ip, pair, perMeeting *ratelimit.Bucket
}

// beginJoin applies the limits to a join attempt from clientIP at meeting id (empty when
// the input is not even shaped like one: only the address's limits apply), refusing with
// rate_limited over a limit of the client, and waiting out the meeting's ceiling. A valid
// join link is not a guess: the meeting's limits do not apply to it, or anyone could keep
// a meeting's invitees out by guessing its passcode. The caller ends the gate with
// whether the attempt was a failed guess.
func (s *Service) beginJoin(ctx context.Context, clientIP, actor, id string, validLink bool, detail string) (*joinGate, error) {
	now := s.now()
	g := &joinGate{s: s}
	refuse := func(which string, wait time.Duration) (*joinGate, error) {
		g.end(false)
		s.refused(ctx, clientIP, actor, id, CodeRateLimited, which+"; "+detail)
		return nil, rateLimited(wait)
	}
	var wait time.Duration
	if site, ok := ratelimit.SiteKey(clientIP); ok { // an IPv4 client is its own site
		if g.site, wait = s.perSite.Begin(site, now); g.site == nil {
			return refuse("per site", wait)
		}
	}
	if g.ip, wait = s.perIP.Begin(ratelimit.IPKey(clientIP), now); g.ip == nil {
		return refuse("per address", wait)
	}
	if id == "" || validLink {
		return g, nil
	}
	if g.pair, wait = s.perMeetingIP.Begin(ratelimit.PairKey(id, clientIP), now); g.pair == nil {
		return refuse("per meeting and address", wait)
	}
	g.perMeeting, wait = s.perMeeting.Slow(id, now, s.maxDelay)
	if err := s.sleep(ctx, wait); err != nil {
		g.end(false)
		return nil, fmt.Errorf("meeting: join slowed by the meeting's ceiling: %w", err)
	}
	return g, nil
}

// end finishes the attempt; a failed guess takes a token from every bucket it counted
// against.
func (g *joinGate) end(failed bool) {
	t := g.s.now()
	g.s.perSite.End(g.site, t, failed)
	g.s.perIP.End(g.ip, t, failed)
	g.s.perMeetingIP.End(g.pair, t, failed)
	g.s.perMeeting.End(g.perMeeting, t, failed)
}

// refused audits a refused join from clientIP: a guest's refusals are summed, so that
// guessing cannot grow the log without bound (see auditlog.Log.Record); a signed-in
// user's are written one by one.
func (s *Service) refused(ctx context.Context, clientIP, actor, subject, outcome, detail string) {
	s.auditLog.Record(ctx, clientIP, store.AuditEntry{
		At: s.now(), Actor: actor, Action: "meeting.join", Subject: subject, Outcome: outcome, Detail: detail,
	})
}
