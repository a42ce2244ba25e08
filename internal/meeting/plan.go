package meeting

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/store"
)

// UpdateInput changes what was planned of a meeting. A nil field stays as it is.
type UpdateInput struct {
	Topic *string
	// StartsAt moves the meeting; the zero time makes it an instant meeting (no start
	// time, no recurrence).
	StartsAt        *time.Time
	DurationMinutes *int
	TimeZone        *string
	Recurrence      *string // "" for none
	// Passcode on keeps the meeting's passcode, or gives it a new one if it had none; off
	// removes it.
	Passcode       *bool
	WaitingRoom    *bool
	JoinBeforeHost *bool
	RequireSignIn  *bool
}

// Update changes a meeting that has not taken place yet, validated as Schedule validates
// a new one. Its host, an owner or admin of its account, or a key with meetings:write
// may; a meeting of anyone else is not_found. A live meeting is meeting_live, an ended one
// meeting_ended (unless it recurs: then the change is to its coming occurrences), a
// cancelled one meeting_cancelled. Every change and refusal of one is audited.
func (s *Service) Update(ctx context.Context, p account.Principal, id string, in UpdateInput) (Meeting, error) {
	if !p.Allows(account.ScopeMeetingsWrite) {
		return Meeting{}, forbidden("this API key lacks the scope " + account.ScopeMeetingsWrite)
	}
	sm, err := s.ownMeeting(ctx, p, id)
	if err != nil {
		return Meeting{}, err
	}
	// Under tmu, so that the meeting cannot go live between the check and the write.
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if sm, err = s.store.GetMeeting(ctx, sm.ID); err != nil {
		return Meeting{}, err
	}
	if e := unchangeable(sm); e != nil {
		s.audit(ctx, p.Actor(), "meeting.update", sm.ID, e.Code, "")
		return Meeting{}, e
	}
	next, err := s.plan(sm, in)
	if err != nil {
		// The refusal's own code (invalid_input, invisible_characters), as the caller got it.
		code, _ := CodeOf(err)
		s.audit(ctx, p.Actor(), "meeting.update", sm.ID, code, err.Error())
		return Meeting{}, err
	}
	if err := s.store.UpdateMeetingPlan(ctx, next); err != nil {
		return Meeting{}, err
	}
	s.audit(ctx, p.Actor(), "meeting.update", sm.ID, "ok", "changed="+strings.Join(changes(sm, next), ","))
	return s.view(next), nil
}

// plan is sm with in applied, validated by checkSchedule.
func (s *Service) plan(sm store.Meeting, in UpdateInput) (store.Meeting, error) {
	si := ScheduleInput{
		Topic: sm.Topic, StartsAt: sm.StartsAt, DurationMinutes: sm.DurationMinutes, TimeZone: sm.TimeZone,
		Recurrence: sm.Recurrence, WaitingRoom: &sm.WaitingRoom, JoinBeforeHost: sm.JoinBeforeHost,
		RequireSignIn: sm.RequireSignIn,
	}
	if in.Topic != nil {
		if strings.TrimSpace(*in.Topic) == "" {
			return store.Meeting{}, invalid("a topic is required")
		}
		si.Topic = *in.Topic
	}
	if in.StartsAt != nil {
		si.StartsAt = *in.StartsAt
	}
	if in.DurationMinutes != nil {
		if *in.DurationMinutes == 0 {
			return store.Meeting{}, invalid(fmt.Sprintf("the duration must be 1 to %d minutes", MaxDurationMinutes))
		}
		si.DurationMinutes = *in.DurationMinutes
	}
	if in.TimeZone != nil {
		si.TimeZone = *in.TimeZone
	}
	if in.Recurrence != nil {
		si.Recurrence = *in.Recurrence
	}
	if in.WaitingRoom != nil {
		si.WaitingRoom = in.WaitingRoom
	}
	if in.JoinBeforeHost != nil {
		si.JoinBeforeHost = *in.JoinBeforeHost
	}
	if in.RequireSignIn != nil {
		si.RequireSignIn = *in.RequireSignIn
	}
	// A start time that does not change is not refused for being past: a meeting its
	// host has not started yet, or a recurring one, keeps its first start.
	now := s.now()
	if !si.StartsAt.IsZero() && si.StartsAt.Equal(sm.StartsAt) && si.StartsAt.Before(now) {
		now = si.StartsAt
	}
	checked, err := s.checkSchedule(si, "", now)
	if err != nil {
		return store.Meeting{}, err
	}
	next := sm
	next.Topic, next.Kind, next.StartsAt, next.DurationMinutes = checked.Topic, checked.Kind, checked.StartsAt, checked.DurationMinutes
	next.TimeZone, next.Recurrence, next.WaitingRoom = checked.TimeZone, checked.Recurrence, checked.WaitingRoom
	next.JoinBeforeHost, next.RequireSignIn = checked.JoinBeforeHost, checked.RequireSignIn
	if in.Passcode != nil {
		switch {
		case !*in.Passcode:
			next.Passcode = ""
		case sm.Passcode == "":
			if next.Passcode, err = NewPasscode(); err != nil {
				return store.Meeting{}, err
			}
		}
	}
	return next, nil
}

// changes names the fields that differ between two plans of a meeting, for the audit log
// (names only: a topic is personal data, a passcode a secret).
func changes(a, b store.Meeting) []string {
	var out []string
	add := func(changed bool, name string) {
		if changed {
			out = append(out, name)
		}
	}
	add(a.Topic != b.Topic, "topic")
	add(a.Kind != b.Kind, "kind")
	add(!a.StartsAt.Equal(b.StartsAt), "starts_at")
	add(a.DurationMinutes != b.DurationMinutes, "duration_minutes")
	add(a.TimeZone != b.TimeZone, "time_zone")
	add(a.Recurrence != b.Recurrence, "recurrence")
	add(a.Passcode != b.Passcode, "passcode")
	add(a.WaitingRoom != b.WaitingRoom, "waiting_room")
	add(a.JoinBeforeHost != b.JoinBeforeHost, "join_before_host")
	add(a.RequireSignIn != b.RequireSignIn, "require_sign_in")
	return out
}

// Cancel calls off a meeting that has not taken place yet (or the coming occurrences of a
// recurring one): it never goes live, and its guests are told it was cancelled. Who may,
// and which meetings may not, as for Update; cancelling a cancelled meeting is not an
// error. The cancellation and every refusal of one are audited.
func (s *Service) Cancel(ctx context.Context, p account.Principal, id string) (Meeting, error) {
	if !p.Allows(account.ScopeMeetingsWrite) {
		return Meeting{}, forbidden("this API key lacks the scope " + account.ScopeMeetingsWrite)
	}
	sm, err := s.ownMeeting(ctx, p, id)
	if err != nil {
		return Meeting{}, err
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if sm, err = s.store.GetMeeting(ctx, sm.ID); err != nil {
		return Meeting{}, err
	}
	if sm.Status == store.MeetingCancelled {
		return s.view(sm), nil
	}
	if e := unchangeable(sm); e != nil {
		s.audit(ctx, p.Actor(), "meeting.cancel", sm.ID, e.Code, "")
		return Meeting{}, e
	}
	now := s.now()
	if err := s.store.UpdateMeetingStatus(ctx, sm.ID, store.MeetingCancelled, now); err != nil {
		return Meeting{}, err
	}
	s.audit(ctx, p.Actor(), "meeting.cancel", sm.ID, "ok", "")
	if sm, err = s.store.GetMeeting(ctx, sm.ID); err != nil {
		return Meeting{}, err
	}
	return s.view(sm), nil
}

// unchangeable refuses a change to a meeting that is taking place or is over.
func unchangeable(sm store.Meeting) *Error {
	switch {
	case sm.Status == store.MeetingLive:
		return ErrMeetingLive
	case sm.Status == store.MeetingCancelled:
		return ErrMeetingCancelled
	case sm.Status == store.MeetingEnded && sm.Recurrence == "":
		return ErrMeetingEnded
	}
	return nil
}
