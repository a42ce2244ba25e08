// Package admission is the one decision every way into a room goes through: the signalling
// WebSocket, WHIP, WHEP, and links between nodes. A transport hands the Gate the bearer
// token and the room it asked for; the Gate verifies the token, asks the meeting layer
// what outlives the room (whether the meeting is live, removals, its lock), and enters the
// room with the options the path and the token's grants give (the room itself decides,
// atomically, on closing, removals, denials, locks, the waiting room and seats). The
// transport gets a participant or an *Error with a stable code, which it maps to its own
// form. A participant exists only if the Gate let it in.
package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/meridian-video/meridian/internal/sfu"
	"github.com/meridian-video/meridian/internal/token"
)

// Path is a way into a room.
type Path string

// Paths.
const (
	// PathSignal is the signalling WebSocket: the token names the room.
	PathSignal Path = "signal"
	// PathWHIP publishes only, PathWHEP receives only; neither can wait in a waiting room.
	PathWHIP Path = "whip"
	PathWHEP Path = "whep"
	// PathRelay is a link from another node carrying the room's media: it takes the
	// token's grants, like a participant, and cannot wait.
	PathRelay Path = "relay"
)

// Refusal codes: stable, for programs to branch on. Transports send them as they are.
const (
	CodeTokenMissing = "token_missing"
	CodeTokenInvalid = "token_invalid"
	CodeTokenExpired = "token_expired"
	CodeWrongRoom    = "wrong_room"
	CodeNotAllowed   = "not_allowed"
	CodeWaiting      = "waiting"
	CodeDenied       = "denied"
	CodeRemoved      = "removed"
	CodeLocked       = "locked"
	CodeFull         = "full"
	CodeEnded        = "ended"
	// CodeRoomClosed is the only temporary refusal: the room is closing as the join
	// arrives, and a new one opens on the next try.
	CodeRoomClosed = "room_closed"
	// CodeInternal: the decision could not be made (the store failed); nothing entered.
	CodeInternal = "internal"
	// CodeWrongRegionKey: the token was signed by a region other than the home region of
	// its meeting, which alone may authorize entry to it.
	CodeWrongRegionKey = "wrong_region_key"
	// CodeControlPlaneUnavailable: the meeting's home region could not be found or asked
	// now (the control plane does not answer); nothing entered, try again.
	CodeControlPlaneUnavailable = "control_plane_unavailable"
	// CodeRegionNotAllowed: the meeting's allowed set (the token's regions) does not
	// contain this node's region, whatever sent the participant here.
	CodeRegionNotAllowed = "region_not_allowed"
)

// Error is a refused entry.
type Error struct {
	Code    string
	Message string
	err     error // the cause, for the log; not told to the client
}

func (e *Error) Error() string { return "admission: " + e.Code + ": " + e.Message }

func (e *Error) Unwrap() error { return e.err }

// Refusals the meeting layer's Rooms returns (wrapped or not); any other error from it
// refuses entry with CodeInternal.
var (
	ErrEnded      = &Error{Code: CodeEnded, Message: "the meeting has ended; ask the host for a new invitation"}
	ErrRemoved    = &Error{Code: CodeRemoved, Message: "you were removed from this meeting"}
	ErrNotAllowed = &Error{Code: CodeNotAllowed, Message: "there is no such meeting"}
	// ErrControlPlane: the meeting's home region did not answer in time.
	ErrControlPlane = &Error{Code: CodeControlPlaneUnavailable, Message: "the meeting's home region cannot be reached now; try again"}
)

// Unavailable is ErrControlPlane with its cause, for the log.
func Unavailable(cause error) *Error {
	e := *ErrControlPlane
	e.err = cause
	return &e
}

// Is matches another *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func refuse(code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Verifier checks join tokens (*token.Issuer is one), against the key of the home region
// of the token's room.
type Verifier interface {
	Verify(ctx context.Context, tok string) (*token.Claims, error)
}

// Rooms knows what of a room outlives it: the meeting layer. CheckEntry refuses entry to
// room by identity, with a token issued at issuedAt, with ErrEnded (the meeting is not
// live, or the token predates its current run), ErrRemoved or ErrNotAllowed, and
// otherwise returns the lasting state the room must apply. A room that is not a
// meeting's has none: Lasting{}, nil.
type Rooms interface {
	CheckEntry(ctx context.Context, room, identity string, issuedAt time.Time) (Lasting, error)
}

// Lasting is a room's state kept outside the SFU.
type Lasting struct {
	// Locked: the meeting is locked; only moderators and identities admitted before enter.
	Locked bool
}

// Gate admits to rooms. Its zero value is not usable; all fields but Log are required.
type Gate struct {
	SFU    *sfu.SFU
	Tokens Verifier
	Rooms  Rooms
	Log    *slog.Logger
	// Region is this node's region. A token that names the regions allowed to carry its
	// meeting is refused unless this region is one of them (defence in depth behind
	// placement). A token naming none is not a meeting's (rooms of hand-minted tokens).
	Region string
	// Partner is the partner that runs this node's region (topology.Region.Partner), empty
	// for the operator's own. Such a node admits a meeting's token only when the token's
	// channel, which the meeting's home region signed, is that partner: a token without
	// one is refused (fail closed). Rooms of its own region's hand-minted tokens (no
	// regions, signed by this region) are the partner's own and enter as elsewhere.
	Partner string
}

// Request is one attempt to enter a room.
type Request struct {
	Path Path
	// Token is the bearer token as the client sent it ("" if none).
	Token string
	// Room is the room the request targets, which the token must name; "" when the
	// token alone names it (signalling).
	Room string
	// ID is the participant id the transport gives the session.
	ID string
	// Sink receives the participant's events.
	Sink sfu.Sink
}

// Entry is an admitted session.
type Entry struct {
	Claims      *token.Claims
	Participant *sfu.Participant
	Snapshot    sfu.Snapshot
}

// Enter decides whether the request may enter its room and, if so, enters it. A refusal
// is an *Error, logged here with the path, room and code.
func (g *Gate) Enter(ctx context.Context, req Request) (*Entry, error) {
	e, err := g.enter(ctx, req)
	if err != nil {
		var ae *Error
		if !errors.As(err, &ae) {
			ae = &Error{Code: CodeInternal, Message: "the server could not decide; try again", err: err}
		}
		room := req.Room
		if e != nil && e.Claims != nil {
			room = e.Claims.Room
		}
		level := slog.LevelInfo
		if ae.Code == CodeInternal {
			level = slog.LevelError
		}
		attrs := []any{"path", req.Path, "room", room, "code", ae.Code}
		if ae.err != nil {
			attrs = append(attrs, "err", ae.err)
		}
		g.log().Log(ctx, level, "entry refused", attrs...)
		return nil, ae
	}
	return e, nil
}

// enter returns an Entry with the claims once verified, also on a later refusal (for the
// log).
func (g *Gate) enter(ctx context.Context, req Request) (*Entry, error) {
	if req.Token == "" {
		return nil, refuse(CodeTokenMissing, "send a join token")
	}
	c, err := g.Tokens.Verify(ctx, req.Token)
	switch {
	case errors.Is(err, token.ErrExpired):
		return nil, refuse(CodeTokenExpired, "the join token has expired; get a new one")
	case errors.Is(err, token.ErrWrongRegionKey):
		return nil, &Error{Code: CodeWrongRegionKey, Message: "the join token was not issued by the meeting's home region; get one from the meeting's page", err: err}
	case errors.Is(err, token.ErrUnknownRoom):
		return nil, &Error{Code: ErrNotAllowed.Code, Message: ErrNotAllowed.Message, err: err}
	case errors.Is(err, token.ErrHomeUnavailable):
		return nil, Unavailable(err)
	case err != nil:
		return nil, &Error{Code: CodeTokenInvalid, Message: "the join token is not valid", err: err}
	}
	e := &Entry{Claims: c}
	opts, ok := options(req.Path, c)
	switch {
	case req.Room != "" && c.Room != req.Room:
		return e, refuse(CodeWrongRoom, "the token is for another room")
	case !ok:
		return e, refuse(CodeNotAllowed, "the token does not grant this")
	case len(c.Grants.Regions) > 0 && !slices.Contains(c.Grants.Regions, g.Region):
		return e, refuse(CodeRegionNotAllowed, "this meeting may not be carried in this server's region; join it again to be sent to the right server")
	case g.Partner != "" && (len(c.Grants.Regions) > 0 || c.Home != g.Region) && c.Channel != g.Partner:
		return e, refuse(CodeRegionNotAllowed, "this server's region is run by a partner and carries only its customers' meetings; join it again to be sent to the right server")
	}
	lasting, err := g.Rooms.CheckEntry(ctx, c.Room, c.Identity, c.IssuedAt.Time)
	if err != nil {
		return e, err
	}
	opts.Locked = lasting.Locked
	info := sfu.ParticipantInfo{ID: req.ID, Identity: c.Identity, Name: c.Name}
	p, snap, err := g.SFU.Room(c.Room).Join(info, opts, req.Sink)
	if err != nil {
		return e, roomRefusal(err)
	}
	if len(snap.Participants) == 0 {
		// Alone in the room: it may have been made afresh just after the meeting ended
		// and its room closed, between CheckEntry and Join. Asking again closes that gap;
		// a room with others in it would have been closed with them.
		if _, err := g.Rooms.CheckEntry(ctx, c.Room, c.Identity, c.IssuedAt.Time); err != nil {
			p.Close("")
			return e, err
		}
	}
	e.Participant, e.Snapshot = p, snap
	return e, nil
}

// options are the join options of a session on path with claims c, and whether its
// grants allow the path at all. The plan's seats, the waiting room and the host role
// apply on every path.
func options(path Path, c *token.Claims) (sfu.JoinOptions, bool) {
	role := sfu.RoleParticipant
	if c.Host {
		role = sfu.RoleHost
	}
	o := sfu.JoinOptions{Role: role, Waiting: c.Waiting, Seats: c.Seats}
	switch path {
	case PathSignal:
		o.CanPublish, o.CanSubscribe = c.Publish, c.Subscribe
		return o, c.Publish || c.Subscribe
	case PathWHIP:
		o.CanPublish, o.NoTrickle, o.CannotWait = true, true, true
		return o, c.Publish
	case PathWHEP:
		o.CanSubscribe, o.ClientOffers, o.NoTrickle, o.CannotWait = true, true, true, true
		return o, c.Subscribe
	case PathRelay:
		o.CanPublish, o.CanSubscribe, o.CannotWait = c.Publish, c.Subscribe, true
		return o, c.Publish || c.Subscribe
	}
	return o, false
}

// roomRefusal is the refusal of the room's own decision.
func roomRefusal(err error) error {
	switch {
	case errors.Is(err, sfu.ErrClosed):
		return refuse(CodeRoomClosed, "the room is closing; try again")
	case errors.Is(err, sfu.ErrRemoved):
		return ErrRemoved
	case errors.Is(err, sfu.ErrDenied):
		return refuse(CodeDenied, "the host did not let you in")
	case errors.Is(err, sfu.ErrLocked):
		return refuse(CodeLocked, "the meeting is locked; ask the host to unlock it")
	case errors.Is(err, sfu.ErrHeld):
		return refuse(CodeWaiting, "you must wait for the host to let you in; join from the meeting page")
	case errors.Is(err, sfu.ErrFull):
		return refuse(CodeFull, "the meeting is full; try again when someone leaves")
	}
	return fmt.Errorf("join: %w", err)
}

func (g *Gate) log() *slog.Logger {
	if g.Log != nil {
		return g.Log
	}
	return slog.Default()
}

// NoLastingState is the Rooms of a node without a meeting layer: no room has state that
// outlives it, so the room's own rules are all there is.
type NoLastingState struct{}

// CheckEntry admits to every room, with no lasting state.
func (NoLastingState) CheckEntry(context.Context, string, string, time.Time) (Lasting, error) {
	return Lasting{}, nil
}
