package meeting

import (
	"context"
	"errors"

	"github.com/meridian-video/meridian/internal/topology"
)

// Placer picks the node that carries a live meeting: the node carrying it already, or for
// a first join (or when that node is gone) a node of its allowed set near the participant.
// It never picks a node outside the allowed set. Place returns a *topology.Refusal when
// no allowed node can take the join; any other error means the control plane could not
// decide, and the join is refused too (fail closed).
type Placer interface {
	Place(ctx context.Context, req PlaceRequest) (Node, error)
}

// PlaceRequest is a join to place.
type PlaceRequest struct {
	MeetingID string
	// Allowed is the meeting's allowed set, as it took it when it went live.
	Allowed topology.AllowedSet
	// From is where the participant is; the Placer's own region when it is empty.
	From topology.Origin
	// Channel is the sales channel of the meeting's account ("direct" or a partner id),
	// which a partner's region must be run for.
	Channel string
}

// Node is where a participant connects: the node carrying the meeting.
type Node struct {
	ID     string
	Region string
	// SignalURL is the node's signalling WebSocket (ws or wss).
	SignalURL string
}

// Refusal codes of placement.
const (
	// CodeNoAllowedCapacity: no node of any allowed region can take the join (all full,
	// down or draining); regions outside the allowed set are never used. Error.Tried says
	// which regions were tried and why.
	CodeNoAllowedCapacity = topology.CodeNoAllowedCapacity
	// CodeControlPlaneUnavailable: the node cannot reach the registry or the directory
	// now, so it cannot tell where the meeting may go, and places it nowhere.
	CodeControlPlaneUnavailable = "control_plane_unavailable"
)

// ErrControlPlaneUnavailable is the refusal of a join the control plane cannot place.
var ErrControlPlaneUnavailable = &Error{Code: CodeControlPlaneUnavailable,
	Message: "the meeting cannot be placed now: this server cannot reach the rest of the deployment; try again shortly"}

// meetingAllowed is the allowed set of a live meeting: the one it took when it went live,
// or, for a meeting live from before sets were kept, its home region alone.
func (s *Service) meetingAllowed(ctx context.Context, m Meeting) (topology.AllowedSet, error) {
	if m.Meeting.AllowedRegions == "" {
		a, err := s.store.GetAccount(ctx, m.AccountID)
		if err != nil {
			return topology.AllowedSet{}, err
		}
		return topology.NewAllowedSet(a.Region)
	}
	return topology.ParseAllowedSet(m.Meeting.AllowedRegions)
}

// place asks the Placer for the node of a join to a live meeting (none without a
// Placer: a Service with no deployment around it). A refusal is audited and returned as
// an *Error: no_allowed_capacity with the regions tried, or control_plane_unavailable.
func (s *Service) place(ctx context.Context, m Meeting, channel string, from topology.Origin, actor string) (Node, error) {
	if s.placer == nil {
		return Node{}, nil
	}
	allowed, err := s.meetingAllowed(ctx, m)
	if err != nil {
		return Node{}, err
	}
	n, err := s.placer.Place(ctx, PlaceRequest{MeetingID: m.ID, Allowed: allowed, From: from, Channel: channel})
	if err == nil {
		return n, nil
	}
	if r := (*topology.Refusal)(nil); errors.As(err, &r) {
		s.audit(ctx, actor, "meeting.place", m.ID, CodeNoAllowedCapacity, r.Message())
		return Node{}, &Error{Code: CodeNoAllowedCapacity, Message: r.Message(), Tried: r.Tried}
	}
	s.log.WarnContext(ctx, "placement failed: refusing the join", "meeting", m.ID, "err", err)
	s.audit(ctx, actor, "meeting.place", m.ID, CodeControlPlaneUnavailable, "")
	return Node{}, ErrControlPlaneUnavailable
}
