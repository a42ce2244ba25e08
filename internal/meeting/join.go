package meeting

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

// JoinInput is a request to join a meeting: by its id and passcode, or by the token of its
// join link.
type JoinInput struct {
	MeetingID string // as people type it; or
	LinkToken string
	Passcode  string // needed with MeetingID when the meeting has one
	// DisplayName is how the others see the participant; a signed-in user's own name if
	// empty.
	DisplayName string
	// Principal is the signed-in user joining, or nil for a guest.
	Principal *account.Principal
	// ClientIP is the address the request came from, for rate limiting and the audit log.
	ClientIP string
	// GuestKey is a random secret the guest's browser keeps (a cookie), so that a guest
	// has one identity across joins and a removal holds. Empty gives a new identity.
	GuestKey string
	// Country is the country of the participant's address as GeoIP tells it (ISO 3166-1
	// alpha-2), the transport having looked it up; empty when it is not known or there is
	// no GeoIP. Entry is decided by it (policy.Enter, the host account's rule of entry by
	// country), and placement counts the participant as in its jurisdiction.
	Country string
	// Origin is where the participant is, for placement: zero means the region of the
	// node the join came in through (or, with a Country, its jurisdiction).
	Origin topology.Origin
}

// Join admits a participant to a meeting and returns their ticket. Guessing is costly:
// an unknown id, a wrong passcode and a forged link count as failures against the client
// address, alone and with the meeting id, and over either limit that address's attempts
// are refused with rate_limited; failures from all addresses against the meeting only
// slow its joins (see Limits), and a valid join link passes the meeting's limits. Every
// refusal is audited (a guest's repeated ones summed, see auditlog). The meeting's host,
// signed in, joining their own meeting starts it (see Start).
func (s *Service) Join(ctx context.Context, in JoinInput) (Ticket, error) {
	actor, userID, name := "anonymous", "", strings.TrimSpace(in.DisplayName)
	if p := in.Principal; p != nil && !p.ViaAPIKey() && p.User.ID != "" {
		actor, userID = p.User.ID, p.User.ID
		if name == "" {
			name = p.User.DisplayName
		}
	} else {
		in.Principal = nil
	}
	if name == "" {
		return Ticket{}, invalid("a display name is required")
	}
	if err := checkText("display name", name, maxNameLength); err != nil {
		return Ticket{}, err
	}
	if len(in.Passcode) > maxPasscodeLength || len(in.LinkToken) > 2*joinTokenLength || len(in.MeetingID) > maxIDInputLength {
		return Ticket{}, invalid("a field is too long")
	}
	var id string
	switch {
	case in.MeetingID != "" && in.LinkToken != "":
		return Ticket{}, invalid("give a meeting id or a join link token, not both")
	case in.LinkToken != "":
		// The id is checked against the link's MAC below, under the rate limits.
		if len(in.LinkToken) >= IDDigits {
			id = in.LinkToken[:IDDigits]
		}
		if n, ok := NormalizeID(id); !ok || n != id {
			id = "" // not even shaped like a link: counts against the address only
		}
	case in.MeetingID != "":
		var ok bool
		if id, ok = NormalizeID(in.MeetingID); !ok {
			return Ticket{}, invalid("a meeting id is 11 digits")
		}
	default:
		return Ticket{}, invalid("a meeting id or a join link token is required")
	}
	detail := "ip=" + in.ClientIP

	validLink := false
	if in.LinkToken != "" && id != "" {
		_, validLink = s.VerifyJoinToken(in.LinkToken)
	}
	gate, err := s.beginJoin(ctx, in.ClientIP, actor, id, validLink, detail)
	if err != nil {
		return Ticket{}, err
	}
	failed := false
	defer func() { gate.end(failed) }()
	if id == "" {
		failed = true
		s.refused(ctx, in.ClientIP, actor, "", "invalid_link", detail)
		return Ticket{}, ErrNotFound
	}
	guess := func(outcome string, e *Error) (Ticket, error) {
		failed = true
		s.refused(ctx, in.ClientIP, actor, id, outcome, detail)
		return Ticket{}, e
	}
	if in.LinkToken != "" && !validLink {
		return guess("invalid_link", ErrNotFound)
	}
	sm, err := s.store.GetMeeting(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return guess(CodeNotFound, ErrNotFound)
	}
	if err != nil {
		return Ticket{}, err
	}
	if in.LinkToken == "" && sm.Passcode != "" && !PasscodesEqual(in.Passcode, sm.Passcode) {
		return guess(CodeWrongPasscode, ErrWrongPasscode)
	}

	// The caller holds the meeting's credentials; what follows refuses on the meeting's
	// state, not a guess.
	refuse := func(e *Error) (Ticket, error) {
		s.refused(ctx, in.ClientIP, actor, id, e.Code, detail)
		return Ticket{}, e
	}
	if sm.Status == store.MeetingCancelled {
		return refuse(ErrMeetingCancelled)
	}
	if userID != "" && userID == sm.HostUserID {
		return s.start(ctx, *in.Principal, id, in.Country, in.Origin)
	}
	if sm.Locked {
		return refuse(ErrMeetingLocked)
	}
	if sm.RequireSignIn && userID == "" {
		return refuse(ErrSignInRequired)
	}
	identity := userID
	if identity == "" {
		identity = guestIdentity(in.GuestKey)
	}
	removed, err := s.store.IsRemoved(ctx, id, identity)
	if err != nil {
		return Ticket{}, err
	}
	if removed {
		return refuse(ErrRemoved)
	}

	// Participants may start the meeting's clock (join before host) only if its account
	// may host: policy.MayHost decides, as for the host.
	if sm.Status != store.MeetingLive {
		if sm.Status == store.MeetingEnded && sm.Recurrence == "" {
			return refuse(ErrMeetingEnded)
		}
		if !sm.JoinBeforeHost {
			return refuse(ErrWaitingForHost)
		}
	}
	a, err := s.store.GetAccount(ctx, sm.AccountID)
	if err != nil {
		return Ticket{}, err
	}
	if err := s.decideJoin(ctx, in, a, actor, id); err != nil {
		return Ticket{}, err
	}
	ent, err := s.decideHost(ctx, a, actor, "meeting.join", id)
	if err != nil {
		return Ticket{}, err
	}
	if s.occupancy != nil && ent.MaxParticipants > 0 && s.occupancy(id, identity) >= ent.MaxParticipants {
		return refuse(meetingFull(ent.MaxParticipants))
	}
	s.tmu.Lock()
	m, ended, err := s.goLive(ctx, id, ent.MaxMeetingLength, actor, "a participant joined before the host", sm.JoinBeforeHost)
	s.tmu.Unlock()
	if ended != "" {
		s.notifyEnded(id, ended)
	}
	if e := (*Error)(nil); errors.As(err, &e) {
		return refuse(e)
	}
	if err != nil {
		return Ticket{}, err
	}
	node, err := s.place(ctx, m, channelOf(a), s.origin(in.Country, in.Origin), actor)
	if err != nil {
		return Ticket{}, err
	}
	return s.ticket(m, channelOf(a), identity, name, false, m.WaitingRoom, ent.MaxParticipants, node)
}

// guestIdentity is a guest's identity in rooms: derived from the key their browser keeps,
// so that it is the same on every join and tells nothing of the key; random without one.
func guestIdentity(key string) string {
	if key == "" {
		return "guest-" + strings.ToLower(rand.Text()[:16])
	}
	sum := sha256.Sum256([]byte("meridian/guest-identity/v1\x00" + key))
	return "guest-" + base64.RawURLEncoding.EncodeToString(sum[:12])
}

// channelOf is the sales channel of a meeting's account: "direct" or a partner's id. A
// region run by a partner carries the meeting only for that partner's customers, so
// placement and the token carry it.
func channelOf(a store.Account) string {
	if a.Channel == "" {
		return store.ChannelDirect
	}
	return a.Channel
}

// ticket mints an SFU join token for a participant of a live meeting, valid for the
// Service's TokenTTL but never past the meeting's deadline. seats is the plan's
// participant limit, which the room enforces.
func (s *Service) ticket(m Meeting, channel, identity, name string, host, waiting bool, seats int, node Node) (Ticket, error) {
	now := s.now()
	ttl := s.tokenTTL
	if d := Deadline(m); !d.IsZero() {
		ttl = min(ttl, d.Sub(now))
	}
	if ttl < time.Second {
		ttl = time.Second
	}
	g := token.Grants{Publish: true, Subscribe: true, Host: host, Waiting: waiting && !host, Seats: seats, Regions: AllowedRegions(m),
		Channel: channel}
	tok, err := s.mint.Mint(Room(m.ID), identity, name, g, ttl)
	if err != nil {
		return Ticket{}, fmt.Errorf("meeting: join token: %w", err)
	}
	return Ticket{
		Meeting: m, Token: tok, Room: Room(m.ID), Identity: identity, Name: name,
		Host: host, ExpiresAt: now.Add(ttl), Waiting: waiting && !host, Node: node,
	}, nil
}
