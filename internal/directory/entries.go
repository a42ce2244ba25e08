package directory

import (
	"context"
	"fmt"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/topology"
)

type versioned interface{ version() int }

// Account says where an account is homed.
type Account struct {
	V          int    `json:"v"`
	ID         string `json:"id"`
	HomeRegion string `json:"home"`
}

// Meeting says where a meeting is homed, which regions may carry it and which node does.
type Meeting struct {
	V          int                 `json:"v"`
	ID         string              `json:"id"`
	HomeRegion string              `json:"home"`
	Allowed    topology.AllowedSet `json:"allowed"`
	Node       string              `json:"node,omitempty"` // "" while no node carries it
}

// Session says where a session is homed. Its ID must be an opaque id of the session, never
// the bearer token itself, which would be a credential in every region.
type Session struct {
	V          int    `json:"v"`
	ID         string `json:"id"`
	HomeRegion string `json:"home"`
}

// Email finds an account for sign-in from the keyed hash of its email ([EmailKey]).
type Email struct {
	V          int    `json:"v"`
	Hash       string `json:"hash"`
	AccountID  string `json:"account"`
	HomeRegion string `json:"home"`
}

func (a Account) version() int { return a.V }
func (m Meeting) version() int { return m.V }
func (s Session) version() int { return s.V }
func (e Email) version() int   { return e.V }

// PutAccount records an account homed in this node's region.
func (d *Directory) PutAccount(ctx context.Context, a Account) error {
	k, err := key("account", a.ID)
	if err != nil {
		return err
	}
	a.V = Version
	return d.put(ctx, a.HomeRegion, k, a)
}

// Account looks an account up.
func (d *Directory) Account(ctx context.Context, id string) (Account, error) {
	var a Account
	k, err := key("account", id)
	if err == nil {
		err = d.get(ctx, k, &a)
	}
	return a, err
}

// PutMeeting records a meeting homed in this node's region.
func (d *Directory) PutMeeting(ctx context.Context, m Meeting) error {
	k, err := key("meeting", m.ID)
	if err != nil {
		return err
	}
	if err := d.checkMeeting(m); err != nil {
		return err
	}
	m.V = Version
	return d.put(ctx, m.HomeRegion, k, m)
}

// checkMeeting refuses, as ErrInvalid, a meeting whose allowed regions are not the
// deployment's or leave out its home, or whose node is not a bus token.
func (d *Directory) checkMeeting(m Meeting) error {
	if err := m.Allowed.Check(d.cfg.Deployment, m.HomeRegion); err != nil {
		return fmt.Errorf("%w: meeting %s: %v", ErrInvalid, m.ID, err)
	}
	if m.Node != "" {
		if err := bus.Token(m.Node); err != nil {
			return fmt.Errorf("%w: meeting %s node: %v", ErrInvalid, m.ID, err)
		}
	}
	return nil
}

// Meeting looks a meeting up.
func (d *Directory) Meeting(ctx context.Context, id string) (Meeting, error) {
	var m Meeting
	k, err := key("meeting", id)
	if err == nil {
		err = d.get(ctx, k, &m)
	}
	return m, err
}

// PutSession records a session homed in this node's region.
func (d *Directory) PutSession(ctx context.Context, s Session) error {
	k, err := key("session", s.ID)
	if err != nil {
		return err
	}
	s.V = Version
	return d.put(ctx, s.HomeRegion, k, s)
}

// Session looks a session up.
func (d *Directory) Session(ctx context.Context, id string) (Session, error) {
	var s Session
	k, err := key("session", id)
	if err == nil {
		err = d.get(ctx, k, &s)
	}
	return s, err
}

// PutEmail records the keyed hash of an account's email ([EmailKey]), never the address.
func (d *Directory) PutEmail(ctx context.Context, e Email) error {
	k, err := key("email", e.Hash)
	if err != nil {
		return err
	}
	if err := bus.Token(e.AccountID); err != nil {
		return fmt.Errorf("%w: email account id: %v", ErrInvalid, err)
	}
	e.V = Version
	return d.put(ctx, e.HomeRegion, k, e)
}

// LookupEmail finds the account whose email has the keyed hash.
func (d *Directory) LookupEmail(ctx context.Context, hash string) (Email, error) {
	var e Email
	k, err := key("email", hash)
	if err == nil {
		err = d.get(ctx, k, &e)
	}
	return e, err
}

// DeleteAccount, DeleteMeeting, DeleteSession and DeleteEmail remove a fact homed in this
// node's region (a closed account, an ended meeting, a signed-out session, a changed
// address); a fact homed elsewhere is ErrNotFound here.
func (d *Directory) DeleteAccount(ctx context.Context, id string) error {
	return d.delKind(ctx, "account", id)
}

func (d *Directory) DeleteMeeting(ctx context.Context, id string) error {
	return d.delKind(ctx, "meeting", id)
}

func (d *Directory) DeleteSession(ctx context.Context, id string) error {
	return d.delKind(ctx, "session", id)
}

func (d *Directory) DeleteEmail(ctx context.Context, hash string) error {
	return d.delKind(ctx, "email", hash)
}

func (d *Directory) delKind(ctx context.Context, kind, id string) error {
	k, err := key(kind, id)
	if err != nil {
		return err
	}
	return d.del(ctx, k)
}
