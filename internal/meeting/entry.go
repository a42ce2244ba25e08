package meeting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/meridian-video/meridian/internal/store"
)

// Entry is what of a meeting applies to a session entering its room now.
type Entry struct {
	// Locked: the host locked the meeting; the room lets in only moderators and those
	// admitted before.
	Locked bool
}

// CheckEntry decides, for the SFU's admission, whether identity may enter the room of
// meeting id now with a join token issued at issuedAt, on any way in (signalling, WHIP,
// WHEP). A ticket lets its bearer in only while the run of the meeting it was issued for
// lasts: a meeting that is not live refuses with ErrMeetingEnded (ErrWaitingForHost if it
// never started), and so does one that ended and started again after the token was issued
// (a recurring meeting's next occurrence). A removed identity is refused with ErrRemoved;
// an unknown meeting with ErrNotFound. Nothing is audited: the joins that issued the
// tickets were.
func (s *Service) CheckEntry(ctx context.Context, id, identity string, issuedAt time.Time) (Entry, error) {
	sm, err := s.store.GetMeeting(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("meeting: entry: %w", err)
	}
	switch sm.Status {
	case store.MeetingLive:
	case store.MeetingScheduled:
		return Entry{}, ErrWaitingForHost
	default:
		return Entry{}, ErrMeetingEnded
	}
	// A token's issue time is whole seconds (JWT iat), so a ticket issued in the second
	// the run began is taken as of this run.
	if issuedAt.Before(sm.StartedAt.Truncate(time.Second)) {
		return Entry{}, ErrMeetingEnded
	}
	removed, err := s.store.IsRemoved(ctx, id, identity)
	if err != nil {
		return Entry{}, fmt.Errorf("meeting: entry: %w", err)
	}
	if removed {
		return Entry{}, ErrRemoved
	}
	return Entry{Locked: sm.Locked}, nil
}
