package meeting

import (
	"context"
	"fmt"
)

// Routing records in a multi-region deployment's directory that a meeting is homed in
// this node's region, so that a join or lookup reaching another region is forwarded here.
// It holds the meeting's id and home only, never its topic. Nil Options.Routing is a
// one-region deployment.
type Routing interface {
	// MeetingTaken reports whether any region has a meeting with this id: ids are drawn
	// in each region, and one id must route to one meeting.
	MeetingTaken(ctx context.Context, id string) (bool, error)
	// AddMeeting records a meeting homed in this node's region.
	AddMeeting(ctx context.Context, id string) error
}

func (s *Service) controlPlane(ctx context.Context, id string, err error) error {
	s.log.WarnContext(ctx, "directory: meeting not recorded", "meeting", id, "err", err)
	return &Error{Code: CodeControlPlaneUnavailable,
		Message: "the deployment's directory is not answering, so the meeting cannot be scheduled now; try again shortly"}
}

// idTaken reports whether another region has drawn id already.
func (s *Service) idTaken(ctx context.Context, id string) (bool, error) {
	if s.routing == nil {
		return false, nil
	}
	taken, err := s.routing.MeetingTaken(ctx, id)
	if err != nil {
		return false, s.controlPlane(ctx, id, fmt.Errorf("look up: %w", err))
	}
	return taken, nil
}

// addMeeting records a stored meeting's home.
func (s *Service) addMeeting(ctx context.Context, id string) error {
	if s.routing == nil {
		return nil
	}
	if err := s.routing.AddMeeting(ctx, id); err != nil {
		return s.controlPlane(ctx, id, err)
	}
	return nil
}
