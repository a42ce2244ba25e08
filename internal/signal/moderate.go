package signal

import (
	"context"
	"time"

	"github.com/meridian-video/meridian/internal/sfu"
)

// moderateTimeout bounds how long the Moderator may take to record an action.
const moderateTimeout = 5 * time.Second

// moderate carries out a host control. The SFU checks the actor's role for each; actions
// with a lasting effect (remove, lock, end) are applied by the Moderator first, after the
// same check here, so that a refusal there changes nothing in the room.
func (s *session) moderate(req *Request) error {
	p := s.participant
	room := p.Room()
	switch req.Type {
	case TypeMute:
		if err := p.SetMuted(req.ParticipantID, req.Source, *req.Muted); err != nil {
			return sfuError(err)
		}
		if req.ParticipantID != "" && req.ParticipantID != p.Info().ID {
			s.record(ActionMute, req.ParticipantID, req.Source)
		}
	case TypeMuteAll:
		if err := p.MuteAll(); err != nil {
			return sfuError(err)
		}
		s.record(ActionMuteAll, "", "")
	case TypeAdmit:
		subject, _ := room.Lookup(req.ParticipantID)
		if err := p.Admit(req.ParticipantID); err != nil {
			return sfuError(err)
		}
		s.recordIdentity(ActionAdmit, subject.Identity, subject.Name)
	case TypeAdmitAll:
		if err := p.AdmitAll(); err != nil {
			return sfuError(err)
		}
		s.record(ActionAdmitAll, "", "")
	case TypeDeny:
		subject, _ := room.Lookup(req.ParticipantID)
		if err := p.Deny(req.ParticipantID); err != nil {
			return sfuError(err)
		}
		s.recordIdentity(ActionDeny, subject.Identity, subject.Name)
	case TypeSetRole:
		if err := p.SetRole(req.ParticipantID, sfu.Role(*req.Role)); err != nil {
			return sfuError(err)
		}
		s.record(ActionSetRole, req.ParticipantID, "role="+*req.Role)
	case TypeRemove:
		if !p.Role().Moderates() {
			return sfuError(sfu.ErrNotModerator)
		}
		subject, ok := room.Lookup(req.ParticipantID)
		if !ok {
			return sfuError(sfu.ErrUnknownParticipant)
		}
		if subject.ID == p.Info().ID || (subject.Role == sfu.RoleHost && p.Role() != sfu.RoleHost) {
			return sfuError(sfu.ErrNotAllowed)
		}
		if err := s.lasting(ActionRemove, subject.Identity, subject.Name); err != nil {
			return err
		}
		return sfuError(p.Remove(req.ParticipantID))
	case TypeLock:
		if !p.Role().Moderates() {
			return sfuError(sfu.ErrNotModerator)
		}
		action := ActionUnlock
		if *req.Locked {
			action = ActionLock
		}
		if err := s.lasting(action, "", ""); err != nil {
			return err
		}
		return sfuError(p.SetLocked(*req.Locked))
	case TypeEndMeeting:
		if p.Role() != sfu.RoleHost {
			return sfuError(sfu.ErrNotHost)
		}
		if err := s.lasting(ActionEnd, "", ""); err != nil {
			return err
		}
		room.Close("ended")
	}
	return nil
}

// lasting asks the Moderator to apply an action before the room does.
func (s *session) lasting(action, subject, detail string) error {
	if err := s.tellModerator(action, subject, detail); err != nil {
		s.log.Error("host control not applied", "action", action, "err", err)
		return &ProtocolError{Code: CodeInternal, Message: "the action could not be saved; try again"}
	}
	return nil
}

// record tells the Moderator of an action already applied in the room, on the
// participant with the given session id.
func (s *session) record(action, participantID, detail string) {
	subject := ""
	if participantID != "" {
		if info, ok := s.participant.Room().Lookup(participantID); ok {
			subject = info.Identity
		}
	}
	s.recordIdentity(action, subject, detail)
}

func (s *session) recordIdentity(action, subject, detail string) {
	if err := s.tellModerator(action, subject, detail); err != nil {
		s.log.Error("host control not recorded", "action", action, "err", err)
	}
}

func (s *session) tellModerator(action, subject, detail string) error {
	if s.h.Moderator == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), moderateTimeout)
	defer cancel()
	return s.h.Moderator.Moderate(ctx, Moderation{
		Room: s.claims.Room, Action: action, Actor: s.claims.Identity, Subject: subject, Detail: detail,
	})
}
