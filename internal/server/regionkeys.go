package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/meridian-video/meridian/internal/admission"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/homecheck"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

// startRegionTrust makes the node verify join tokens with the key of each room's home
// region, ask entry checks of a meeting homed elsewhere of its home region, and answer
// those of other regions' nodes for this region's meetings.
func (s *Server) startRegionTrust(keys token.Keys, st *store.Store) error {
	region := s.Tokens.Region()
	homes := roomHomes{region: region, store: st, dir: s.Directory}
	s.Tokens = s.Tokens.Trusting(keys, homes)
	s.rooms = meetingRooms{meetings: s.Meetings, homes: homes, remote: homecheck.NewClient(s.Bus)}
	var err error
	s.entryChecks, err = homecheck.Serve(s.Bus, localEntry{s.Meetings}, s.log)
	if err != nil {
		return err
	}
	s.log.Info("region key", "region", region, "public_key", base64.StdEncoding.EncodeToString(keys[region]))
	return nil
}

// trustedKeys are the public keys this node verifies join tokens with: each region's
// public_key from the region list, the trust anchor the operator controls (a key a node
// announced on the bus could be anyone's holding the bus secret). A deployment of one
// region may leave its key out: its node then trusts its own region key, so that
// `meridian serve` needs nothing. The node's own key must be the one the list gives.
func trustedKeys(dep topology.Deployment, own token.RegionKey) (token.Keys, error) {
	keys := token.Keys{}
	for i, r := range dep.Regions {
		k, ok, err := r.Ed25519Key()
		switch {
		case err != nil:
			return nil, fmt.Errorf("regions[%d].public_key: %w", i, err)
		case !ok && len(dep.Regions) > 1:
			msg := fmt.Sprintf("region %s has no public_key: a deployment of several regions lists every region's key", r.ID)
			if r.ID == own.Region {
				msg += fmt.Sprintf(" (this node's region key has public_key %s)", own.PublicBase64())
			}
			return nil, errors.New(msg)
		case !ok:
			k = own.Public()
		case r.ID == own.Region && !k.Equal(own.Public()):
			return nil, fmt.Errorf("region %s: the region key file holds the key of public_key %s, not the %s the region list gives: "+
				"copy the region's key file from another of its nodes, or correct the list", r.ID, own.PublicBase64(), r.PublicKey)
		}
		keys[r.ID] = k
	}
	return keys, nil
}

// meetingDirectory is what the node needs of the routing directory.
type meetingDirectory interface {
	Meeting(ctx context.Context, id string) (directory.Meeting, error)
}

// roomHomes says which region's key must have signed a token for a room, and so which
// region decides entry to it: a meeting's room is homed where its meeting is (this region
// when this region's store has it, else as the directory says), a hand-minted room here.
type roomHomes struct {
	region string
	store  *store.Store
	dir    meetingDirectory
}

func (h roomHomes) HomeOf(ctx context.Context, room string) (string, error) {
	id, ok := meeting.MeetingOfRoom(room)
	if !ok {
		return h.region, nil
	}
	// The store holds this region's meetings only.
	_, err := h.store.GetMeeting(ctx, id)
	switch {
	case err == nil:
		return h.region, nil
	case !errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("%w: meeting %s: %v", token.ErrHomeUnavailable, id, err)
	}
	m, err := h.dir.Meeting(ctx, id)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return "", fmt.Errorf("%w: meeting %s", token.ErrUnknownRoom, id)
	case err != nil:
		return "", fmt.Errorf("%w: meeting %s: %v", token.ErrHomeUnavailable, id, err)
	}
	return m.HomeRegion, nil
}

// meetingRooms gives admission the meeting layer's part of every entry to a meeting's
// room: this region's meeting layer for its own meetings, the home region's (asked over
// the bus) for a meeting homed elsewhere, of which this node holds no copy. Rooms that are
// not meetings' (made with hand-minted tokens) have no lasting state; a room named as a
// meeting's whose meeting does not exist lets no one in.
type meetingRooms struct {
	meetings *meeting.Service
	homes    roomHomes
	remote   *homecheck.Client
}

func (m meetingRooms) CheckEntry(ctx context.Context, room, identity string, issuedAt time.Time) (admission.Lasting, error) {
	id, ok := meeting.MeetingOfRoom(room)
	if !ok {
		return admission.Lasting{}, nil
	}
	home, err := m.homes.HomeOf(ctx, room)
	switch {
	case errors.Is(err, token.ErrUnknownRoom):
		return admission.Lasting{}, admission.ErrNotAllowed
	case err != nil:
		return admission.Lasting{}, admission.Unavailable(err)
	case home != m.homes.region:
		return m.remote.CheckEntry(ctx, home, id, identity, issuedAt)
	}
	return localEntry{m.meetings}.CheckEntry(ctx, id, identity, issuedAt)
}

// localEntry answers entry checks for this region's meetings, for this node's admission
// and, through homecheck, for nodes of other regions carrying them.
type localEntry struct{ meetings *meeting.Service }

func (l localEntry) CheckEntry(ctx context.Context, id, identity string, issuedAt time.Time) (admission.Lasting, error) {
	e, err := l.meetings.CheckEntry(ctx, id, identity, issuedAt)
	switch {
	case errors.Is(err, meeting.ErrNotFound):
		return admission.Lasting{}, admission.ErrNotAllowed
	case errors.Is(err, meeting.ErrMeetingEnded), errors.Is(err, meeting.ErrWaitingForHost):
		return admission.Lasting{}, admission.ErrEnded
	case errors.Is(err, meeting.ErrRemoved):
		return admission.Lasting{}, admission.ErrRemoved
	case err != nil:
		return admission.Lasting{}, err
	}
	return admission.Lasting{Locked: e.Locked}, nil
}
