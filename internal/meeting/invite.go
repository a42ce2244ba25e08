package meeting

import (
	"context"
	"errors"
	"time"

	"github.com/meridian-video/meridian/internal/ratelimit"
	"github.com/meridian-video/meridian/internal/store"
)

// LookupInput names a meeting as an invitation does: by the token of its join link, or by
// its id and passcode.
type LookupInput struct {
	MeetingID string // as people type it; or
	LinkToken string
	Passcode  string // needed with MeetingID when the meeting has one
	ClientIP  string // for the rate limits and the audit log
}

// PublicInfo is what an invitation tells before joining: which meeting, whose, and
// whether it can be joined now. Nothing else (no id, no settings, no secrets).
type PublicInfo struct {
	Topic    string
	HostName string
	// Status is "scheduled", "live", "ended" or "cancelled". A recurring meeting between
	// two occurrences is scheduled.
	Status string
	// StartsAt is the start of the meeting, or of a recurring one's next occurrence; zero
	// for an instant meeting.
	StartsAt time.Time
}

// Lookup tells the holder of an invitation what it is for. It guards against guessing as
// Join does, with the same buckets: an unknown id, a wrong passcode and a link that does
// not verify count as failures against the client address and the meeting, are audited,
// and tell nothing of the meeting.
func (s *Service) Lookup(ctx context.Context, in LookupInput) (PublicInfo, error) {
	sm, err := s.invitation(ctx, in)
	if err != nil {
		return PublicInfo{}, err
	}
	host, err := s.store.GetUser(ctx, sm.HostUserID)
	if err != nil {
		return PublicInfo{}, err
	}
	info := PublicInfo{Topic: sm.Topic, HostName: host.DisplayName, Status: sm.Status, StartsAt: sm.StartsAt}
	if sm.Recurrence != "" {
		if sm.Status == store.MeetingEnded {
			info.Status = store.MeetingScheduled
		}
		info.StartsAt = NextStart(Meeting{Meeting: sm}, s.now())
	}
	return info, nil
}

// invitation returns the meeting an invitation is for, checking the credentials under the
// join rate limits: the rules of Join, for a caller who is not joining (yet).
func (s *Service) invitation(ctx context.Context, in LookupInput) (store.Meeting, error) {
	const action = "meeting.lookup"
	if len(in.Passcode) > maxPasscodeLength || len(in.LinkToken) > 2*joinTokenLength || len(in.MeetingID) > maxIDInputLength {
		return store.Meeting{}, invalid("a field is too long")
	}
	var id string
	switch {
	case in.MeetingID != "" && in.LinkToken != "":
		return store.Meeting{}, invalid("give a meeting id or a join link token, not both")
	case in.LinkToken != "":
		if len(in.LinkToken) >= IDDigits {
			id = in.LinkToken[:IDDigits]
		}
		if n, ok := NormalizeID(id); !ok || n != id {
			id = ""
		}
	case in.MeetingID != "":
		var ok bool
		if id, ok = NormalizeID(in.MeetingID); !ok {
			return store.Meeting{}, invalid("a meeting id is 11 digits")
		}
	default:
		return store.Meeting{}, invalid("a meeting id or a join link token is required")
	}
	detail := "ip=" + in.ClientIP
	now := s.now()
	ipB, wait := s.perIP.Begin(ratelimit.IPKey(in.ClientIP), now)
	if ipB == nil {
		s.audit(ctx, "anonymous", action, id, CodeRateLimited, "per address; "+detail)
		return store.Meeting{}, rateLimited(wait)
	}
	ipFailed := false
	defer func() { s.perIP.End(ipB, s.now(), ipFailed) }()
	if id == "" {
		ipFailed = true
		s.audit(ctx, "anonymous", action, "", "invalid_link", detail)
		return store.Meeting{}, ErrNotFound
	}
	validLink := false
	if in.LinkToken != "" {
		_, validLink = s.VerifyJoinToken(in.LinkToken)
	}
	mFailed := false
	if !validLink {
		mB, wait := s.perMeeting.Begin(id, now)
		if mB == nil {
			s.audit(ctx, "anonymous", action, id, CodeRateLimited, "per meeting; "+detail)
			return store.Meeting{}, rateLimited(wait)
		}
		defer func() { s.perMeeting.End(mB, s.now(), mFailed) }()
	}
	guess := func(outcome string, e *Error) (store.Meeting, error) {
		ipFailed, mFailed = true, true
		s.audit(ctx, "anonymous", action, id, outcome, detail)
		return store.Meeting{}, e
	}
	if in.LinkToken != "" && !validLink {
		return guess("invalid_link", ErrNotFound)
	}
	sm, err := s.store.GetMeeting(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return guess(CodeNotFound, ErrNotFound)
	}
	if err != nil {
		return store.Meeting{}, err
	}
	// Compared as Join compares it (case-blind, grouping ignored): a passcode that lets
	// its holder in must also tell them which meeting it is.
	if in.LinkToken == "" && sm.Passcode != "" && !PasscodesEqual(in.Passcode, sm.Passcode) {
		return guess(CodeWrongPasscode, ErrWrongPasscode)
	}
	return sm, nil
}
