package meeting

import (
	"context"
	"errors"
	"fmt"

	"github.com/meridian-video/meridian/internal/store"
)

// Why a meeting ended, as OnEnded is told and participants are shown.
const (
	EndedByHost      = "ended"
	EndedByTimeLimit = "time_limit"
)

// Host controls, as the signalling layer reports them (see HostAction).
const (
	ActionRemove = "remove"
	ActionLock   = "lock"
	ActionUnlock = "unlock"
	ActionEnd    = "end"
)

// HostAction is a host control used in a meeting's room: by Actor (an identity) on
// Subject (an identity, or none). The signalling layer has checked that Actor is the
// meeting's host or a co-host they appointed, from the role the meeting's join token
// granted, before reporting it.
type HostAction struct {
	Action         string
	Actor, Subject string
	Detail         string
}

// RecordHostAction audits a host control and applies what must outlive the room: a
// removal keeps the subject out of later joins, a lock refuses new joins, an end ends the
// meeting (and OnEnded closes its room). Other actions (admit, mute, ...) are audited
// only. An error means the action must not take effect.
func (s *Service) RecordHostAction(ctx context.Context, meetingID string, a HostAction) error {
	var err error
	switch a.Action {
	case ActionRemove:
		if a.Subject == "" {
			return errors.New("meeting: a removal needs a subject")
		}
		err = s.store.AddRemoval(ctx, meetingID, a.Subject, s.now())
	case ActionLock, ActionUnlock:
		err = s.store.SetMeetingLocked(ctx, meetingID, a.Action == ActionLock)
	case ActionEnd:
		err = s.endBy(ctx, meetingID, a.Actor)
	}
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	detail := a.Detail
	if a.Subject != "" {
		detail = fmt.Sprintf("subject=%s %s", a.Subject, a.Detail)
	}
	s.audit(ctx, a.Actor, "meeting.host."+a.Action, meetingID, outcome, detail)
	if err != nil {
		return fmt.Errorf("meeting: %s: %w", a.Action, err)
	}
	return nil
}

// endBy ends a live meeting for everyone; ending an ended meeting is not an error.
func (s *Service) endBy(ctx context.Context, id, actor string) error {
	s.tmu.Lock()
	sm, err := s.store.GetMeeting(ctx, id)
	ended := false
	if err == nil && sm.Status != store.MeetingEnded {
		err = s.endLocked(ctx, id, actor, "ended by "+actor)
		ended = err == nil
	}
	s.tmu.Unlock()
	if ended {
		s.notifyEnded(id, EndedByHost)
	}
	return err
}
