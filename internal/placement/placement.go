// Package placement carries out where a live meeting goes: it reads the node registry and
// the meeting's carrying node from the directory, lets topology.Place (pure) decide within
// the meeting's allowed set, and records a new carrier in the directory when a meeting gets
// its first node or fails over. There is no fallback: a refusal of topology.Place, or a
// control plane that cannot answer, is the answer.
//
// Two nodes placing one meeting at once (two first joins through different nodes) must not
// both become its carrier: the carrier is written with compare-and-set on the directory
// entry's revision, and the loser reads the winner's choice and decides again from it.
package placement

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/topology"
)

// ErrNotReady is returned (wrapped) when the control plane cannot answer.
var ErrNotReady = errors.New("placement: control plane not ready")

// Directory is what placement reads and writes of a meeting's routing entry.
type Directory interface {
	MeetingForUpdate(ctx context.Context, id string) (directory.Meeting, uint64, error)
	UpdateMeeting(ctx context.Context, m directory.Meeting, rev uint64) error
}

// Registry is the node registry's view of the deployment's nodes.
type Registry interface {
	Snapshot() []topology.NodeInfo
}

// Placer implements meeting.Placer for the meetings homed in this node's region.
type Placer struct {
	Deployment topology.Deployment
	// Region is this node's region: the meetings' home region, and the participant's
	// origin when none is known.
	Region    string
	Directory Directory
	Registry  Registry
	// Ready is nil when the control plane answers, else why not.
	Ready func() error
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// maxRaces bounds how many times a lost compare-and-set is decided again.
const maxRaces = 5

// Place picks the node for a join to req's meeting; see meeting.Placer.
func (p *Placer) Place(ctx context.Context, req meeting.PlaceRequest) (meeting.Node, error) {
	if p.Ready != nil {
		if err := p.Ready(); err != nil {
			return meeting.Node{}, fmt.Errorf("%w: %v", ErrNotReady, err)
		}
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	from := req.From
	if from.Location == nil && from.Jurisdiction == "" && from.Region == "" {
		from.Region = p.Region
	}
	fp := p.Deployment.Fingerprint()
	for range maxRaces {
		entry, rev, err := p.Directory.MeetingForUpdate(ctx, req.MeetingID)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return meeting.Node{}, fmt.Errorf("%w: %v", ErrNotReady, err)
		}
		pl, err := topology.Place(topology.PlacementInput{
			Deployment: p.Deployment, Fingerprint: fp, Nodes: p.Registry.Snapshot(), Now: now(),
			Allowed: req.Allowed, Carrier: entry.Node, From: from, Channel: req.Channel,
		})
		if err != nil {
			return meeting.Node{}, err
		}
		if pl.Sticky && rev != 0 && entry.Allowed.Equal(req.Allowed) {
			return node(pl.Node), nil
		}
		err = p.Directory.UpdateMeeting(ctx, directory.Meeting{
			ID: req.MeetingID, HomeRegion: p.Region, Allowed: req.Allowed, Node: pl.Node.ID,
		}, rev)
		if errors.Is(err, directory.ErrConflict) {
			continue // another node placed it meanwhile: decide again from its choice
		}
		if err != nil {
			return meeting.Node{}, fmt.Errorf("%w: %v", ErrNotReady, err)
		}
		return node(pl.Node), nil
	}
	return meeting.Node{}, fmt.Errorf("%w: meeting %s: the directory entry kept changing", ErrNotReady, req.MeetingID)
}

func node(n topology.NodeInfo) meeting.Node {
	return meeting.Node{ID: n.ID, Region: n.Region, SignalURL: n.SignalURL}
}
