package account

import (
	"context"
	"fmt"
	"time"

	"github.com/meridian-video/meridian/internal/ratelimit"
)

// RateLimit is a token bucket: Burst attempts at once, then one more every Every.
type RateLimit = ratelimit.Rate

// Limits bound what one client can try. Sign-in limits refuse a guesser without refusing
// the owner: the buckets that refuse are keyed by the client address (an IPv6 address by
// its /64), alone or with the email address it tries, so that guesses from elsewhere never
// keep the owner out; the ceiling per email address only slows. docs/security.md has the
// arithmetic. The buckets live in memory, per node: a restart forgets them, and each node
// of a region counts on its own.
type Limits struct {
	// SignInPerEmailIP counts failed sign-ins to one email address from one client
	// address; over it, that client's attempts at that address are refused.
	SignInPerEmailIP RateLimit
	// SignInPerIP counts a client address's failed sign-ins to any email address; over
	// it, the client's attempts are refused.
	SignInPerIP RateLimit
	// SignInPerSite counts the failed sign-ins of an IPv6 site (a /48, see
	// ratelimit.SiteKey) to any email address, so that one customer's 65,536 /64s are not
	// as many clients; over it, the site's attempts are refused.
	SignInPerSite RateLimit
	// SignInPerEmail is the ceiling of failed sign-ins to one email address from all
	// client addresses (and failed current-password checks). Over it attempts are not
	// refused but wait their turn, at most SignInMaxDelay each (no wait when zero), so
	// that many addresses guessing gain little and the owner still gets in.
	SignInPerEmail RateLimit
	SignInMaxDelay time.Duration
	// PasswordChangePerUser counts a signed-in user's wrong current passwords; over it,
	// password changes are refused (the session, not the owner, is held back: signing in
	// again is not).
	PasswordChangePerUser RateLimit
	// SignUpPerIP counts sign-ups, successful or not: each costs a password hash.
	SignUpPerIP RateLimit
	// ResetPerEmail counts password-reset requests; over it, requests are silently
	// dropped, so that nobody can fill a mailbox with reset mails.
	ResetPerEmail RateLimit
	// PartnerKeyPerIP counts a client address's failed partner-key authentications
	// (malformed, unknown, wrong or revoked keys); over it, that client's partner API
	// requests are refused, right key or wrong, until the bucket refills. Its default
	// applies when it is zero.
	PartnerKeyPerIP RateLimit
	// InvitePerAccount counts an account's invitations, sent or refused: each may tell
	// whether an address already has an account (as a sign-up does), and sends a mail.
	// DefaultLimits' when zero.
	InvitePerAccount RateLimit
	// MaxKeys bounds the keys (addresses, emails, pairs) each set of buckets remembers.
	MaxKeys int
}

// DefaultLimits are the limits of a Service whose Options name none.
func DefaultLimits() Limits {
	return Limits{
		SignInPerEmailIP:      RateLimit{Every: 10 * time.Minute, Burst: 5},
		SignInPerIP:           RateLimit{Every: 6 * time.Second, Burst: 20},
		SignInPerSite:         RateLimit{Every: 1200 * time.Millisecond, Burst: 100},
		SignInPerEmail:        RateLimit{Every: 2 * time.Second, Burst: 20},
		SignInMaxDelay:        3 * time.Second,
		PasswordChangePerUser: RateLimit{Every: time.Minute, Burst: 5},
		SignUpPerIP:           RateLimit{Every: time.Minute, Burst: 10},
		ResetPerEmail:         RateLimit{Every: 20 * time.Minute, Burst: 3},
		PartnerKeyPerIP:       RateLimit{Every: 6 * time.Second, Burst: 20},
		InvitePerAccount:      RateLimit{Every: time.Minute, Burst: 20},
		MaxKeys:               10_000,
	}
}

// signInGate holds the buckets one sign-in attempt counts against, from beginSignIn to
// end.
type signInGate struct {
	s                        *Service
	site, ip, pair, perEmail *ratelimit.Bucket
}

// beginSignIn applies the limits to a sign-in at email from clientIP: it refuses with
// rate_limited over a limit of the client, and waits out the email address's ceiling. The
// caller ends the gate with whether the attempt failed.
func (s *Service) beginSignIn(ctx context.Context, email, clientIP string) (*signInGate, error) {
	now := s.now()
	g := &signInGate{s: s}
	refuse := func(which string, wait time.Duration) (*signInGate, error) {
		g.end(false)
		s.refused(ctx, clientIP, "anonymous", "user.sign_in", "", "rate_limited", which+"; ip="+clientIP)
		return nil, rateLimited(wait)
	}
	var wait time.Duration
	if site, ok := ratelimit.SiteKey(clientIP); ok { // an IPv4 client is its own site
		if g.site, wait = s.signInSite.Begin(site, now); g.site == nil {
			return refuse("per site", wait)
		}
	}
	if g.ip, wait = s.signInIP.Begin(ratelimit.IPKey(clientIP), now); g.ip == nil {
		return refuse("per ip", wait)
	}
	if g.pair, wait = s.signInPair.Begin(ratelimit.PairKey(email, clientIP), now); g.pair == nil {
		return refuse("per email and ip", wait)
	}
	g.perEmail, wait = s.signInEmail.Slow(email, now, s.maxDelay)
	if err := s.sleep(ctx, wait); err != nil {
		g.end(false)
		return nil, fmt.Errorf("account: sign-in slowed by its email's ceiling: %w", err)
	}
	return g, nil
}

// end finishes the attempt; a failed one takes a token from every bucket it counted
// against.
func (g *signInGate) end(failed bool) {
	t := g.s.now()
	g.s.signInSite.End(g.site, t, failed)
	g.s.signInIP.End(g.ip, t, failed)
	g.s.signInPair.End(g.pair, t, failed)
	g.s.signInEmail.End(g.perEmail, t, failed)
}
