// Package homecheck carries admission's entry checks to a meeting's home region over the
// bus. A node carrying a meeting homed in another region holds no copy of it (its data at
// rest lives only in its home region's store), so whether the meeting is live, whether an
// identity was removed and whether it is locked are asked of the home region, whose nodes
// answer from their meeting layer: subject meridian.entry.<home-region>, queue group of
// that region's nodes, so one of them answers each check.
//
// A check crosses gateways, so it carries opaque ids only: the meeting id, the identity
// (a user id or a guest's hash; anything else is refused before it is sent) and the
// token's issue time. No answer within the bus's request timeout refuses entry
// (control_plane_unavailable): a node never lets anyone in on a check it could not make.
package homecheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meridian-video/meridian/internal/admission"
	"github.com/meridian-video/meridian/internal/bus"
)

// Version is the format of requests and replies; either side refuses others.
const Version = 1

// maxMessage bounds what a request or reply may be: a few ids.
const maxMessage = 1024

// Checker answers entry checks for meetings homed in this node's region (the meeting
// layer), as admission.Rooms does for rooms: a refusal is admission.ErrEnded, ErrRemoved
// or ErrNotAllowed; any other error is a failure to decide.
type Checker interface {
	CheckEntry(ctx context.Context, meetingID, identity string, issuedAt time.Time) (admission.Lasting, error)
}

type request struct {
	V        int    `json:"v"`
	Meeting  string `json:"meeting"`
	Identity string `json:"identity"`
	IssuedAt int64  `json:"iat"` // Unix seconds, as the token's iat
}

// reply is the home region's answer: Code is "" when entry may go on (with Locked), else
// a refusal code of admission (ended, removed, not_allowed) or internal.
type reply struct {
	V      int    `json:"v"`
	Locked bool   `json:"locked,omitempty"`
	Code   string `json:"code,omitempty"`
}

func subject(region string) (string, error) { return bus.Subject("meridian", "entry", region) }

func queue(region string) string { return "meridian-entry-" + region }

// Service answers the entry checks of this node's region.
type Service struct {
	b   *bus.Bus
	c   Checker
	log *slog.Logger
	sub *nats.Subscription
}

// Serve answers entry checks for meetings homed in b's region with c until Close.
func Serve(b *bus.Bus, c Checker, log *slog.Logger) (*Service, error) {
	subj, err := subject(b.Region())
	if err != nil {
		return nil, fmt.Errorf("homecheck: %w", err)
	}
	s := &Service{b: b, c: c, log: log.With("component", "homecheck", "region", b.Region())}
	s.sub, err = b.Conn().QueueSubscribe(subj, queue(b.Region()), s.handle)
	if err != nil {
		return nil, fmt.Errorf("homecheck: subscribe %s: %w", subj, err)
	}
	return s, nil
}

// Close stops answering; checks in flight are answered first.
func (s *Service) Close() error {
	if err := s.sub.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("homecheck: %w", err)
	}
	return nil
}

func (s *Service) handle(m *nats.Msg) {
	rep := s.answer(m.Data)
	b, err := json.Marshal(rep)
	if err == nil {
		err = m.Respond(b)
	}
	if err != nil {
		s.log.Warn("entry check: reply not sent", "error", err)
	}
}

func (s *Service) answer(data []byte) reply {
	var req request
	if len(data) > maxMessage || json.Unmarshal(data, &req) != nil || req.V != Version ||
		bus.Token(req.Meeting) != nil || bus.Token(req.Identity) != nil {
		// A peer of another build, or not a peer: nothing to decide on.
		s.log.Warn("entry check: malformed request", "bytes", len(data))
		return reply{V: Version, Code: admission.CodeInternal}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.b.RequestTimeout())
	defer cancel()
	lasting, err := s.c.CheckEntry(ctx, req.Meeting, req.Identity, time.Unix(req.IssuedAt, 0))
	var ae *admission.Error
	switch {
	case err == nil:
		return reply{V: Version, Locked: lasting.Locked}
	case errors.As(err, &ae) && (ae.Is(admission.ErrEnded) || ae.Is(admission.ErrRemoved) || ae.Is(admission.ErrNotAllowed)):
		return reply{V: Version, Code: ae.Code}
	}
	s.log.Error("entry check failed", "meeting", req.Meeting, "error", err)
	return reply{V: Version, Code: admission.CodeInternal}
}

// Client asks home regions.
type Client struct{ b *bus.Bus }

// NewClient asks over b.
func NewClient(b *bus.Bus) *Client { return &Client{b: b} }

// ErrBadIdentity refuses to carry an identity that is not an opaque id to another region.
var ErrBadIdentity = &admission.Error{Code: admission.CodeNotAllowed,
	Message: "this identity cannot enter a meeting homed in another region"}

// CheckEntry asks region home whether identity may enter the room of meeting meetingID
// with a token issued at issuedAt, answering as admission.Rooms does. No answer within the
// bus's request timeout is admission.ErrControlPlane.
func (c *Client) CheckEntry(ctx context.Context, home, meetingID, identity string, issuedAt time.Time) (admission.Lasting, error) {
	subj, err := subject(home)
	if err != nil {
		return admission.Lasting{}, fmt.Errorf("homecheck: home region: %w", err)
	}
	if bus.Token(meetingID) != nil {
		return admission.Lasting{}, admission.ErrNotAllowed
	}
	if bus.Token(identity) != nil {
		return admission.Lasting{}, ErrBadIdentity
	}
	data, err := json.Marshal(request{V: Version, Meeting: meetingID, Identity: identity, IssuedAt: issuedAt.Unix()})
	if err != nil {
		return admission.Lasting{}, fmt.Errorf("homecheck: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.b.RequestTimeout())
	defer cancel()
	m, err := c.b.Conn().RequestWithContext(ctx, subj, data)
	if err != nil {
		return admission.Lasting{}, admission.Unavailable(fmt.Errorf("homecheck: ask %s: %w", home, err))
	}
	var rep reply
	if len(m.Data) > maxMessage || json.Unmarshal(m.Data, &rep) != nil || rep.V != Version {
		return admission.Lasting{}, fmt.Errorf("homecheck: malformed reply from %s", home)
	}
	switch rep.Code {
	case "":
		return admission.Lasting{Locked: rep.Locked}, nil
	case admission.CodeEnded:
		return admission.Lasting{}, admission.ErrEnded
	case admission.CodeRemoved:
		return admission.Lasting{}, admission.ErrRemoved
	case admission.CodeNotAllowed:
		return admission.Lasting{}, admission.ErrNotAllowed
	}
	return admission.Lasting{}, fmt.Errorf("homecheck: %s could not decide (%s)", home, rep.Code)
}
