package policyregions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/store"
)

// An activation made on one node reaches every node of every region on
// meridian.policy.activated: the document itself (operator data, no personal data) as the
// message's data, who activated which version when in its headers. Each node checks it
// again, keeps it in its own region's store for the restart and runs it; an older one
// than the node runs (by activation time) is ignored, so the latest activation wins
// everywhere.
const activatedSubject = "meridian.policy.activated"

// Headers of an activation message.
const (
	hdrV       = "Meridian-Policy-V"
	hdrNode    = "Meridian-Policy-Node"
	hdrName    = "Meridian-Policy-Name"
	hdrVersion = "Meridian-Policy-Version"
	hdrActor   = "Meridian-Policy-Actor"
	hdrAt      = "Meridian-Policy-At" // Unix milliseconds, as the store keeps times
)

// Applier runs an activation another node announced (*policyadmin.Service is one).
type Applier interface {
	ApplyActivation(ctx context.Context, a store.PolicyActivation, from string) error
}

// Announcer announces this node's activations to every other node.
type Announcer struct{ b *bus.Bus }

// NewAnnouncer announces over b.
func NewAnnouncer(b *bus.Bus) Announcer { return Announcer{b: b} }

// AnnounceActivation publishes a and waits until the bus has it.
func (a Announcer) AnnounceActivation(ctx context.Context, act store.PolicyActivation) error {
	m := nats.NewMsg(activatedSubject)
	m.Header.Set(hdrV, strconv.Itoa(Version))
	m.Header.Set(hdrNode, a.b.NodeID())
	m.Header.Set(hdrName, act.Name)
	m.Header.Set(hdrVersion, act.Version)
	m.Header.Set(hdrActor, act.Actor)
	m.Header.Set(hdrAt, strconv.FormatInt(act.At.UnixMilli(), 10))
	m.Data = act.Source
	if err := a.b.Conn().PublishMsg(m); err != nil {
		return fmt.Errorf("policyregions: announce activation: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.b.RequestTimeout())
	defer cancel()
	if err := a.b.Conn().FlushWithContext(ctx); err != nil {
		return fmt.Errorf("policyregions: announce activation: %w", err)
	}
	return nil
}

// Follower runs the activations other nodes announce until Close.
type Follower struct{ sub *nats.Subscription }

// Follow subscribes b to activations and hands every other node's to ap.
func Follow(b *bus.Bus, ap Applier, log *slog.Logger) (*Follower, error) {
	log = log.With("component", "policyregions")
	sub, err := b.Conn().Subscribe(activatedSubject, func(m *nats.Msg) {
		from := m.Header.Get(hdrNode)
		if from == b.NodeID() {
			return
		}
		act, err := decodeActivation(m)
		if err != nil {
			log.Warn("policy activation announced by another node refused", "from", from, "err", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ap.ApplyActivation(ctx, act, from); err != nil {
			log.Error("policy activation announced by another node not applied", "from", from, "version", act.Version, "err", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("policyregions: %w", err)
	}
	return &Follower{sub: sub}, nil
}

func decodeActivation(m *nats.Msg) (store.PolicyActivation, error) {
	if m.Header.Get(hdrV) != strconv.Itoa(Version) {
		return store.PolicyActivation{}, fmt.Errorf("format %q, want %d", m.Header.Get(hdrV), Version)
	}
	at, err := strconv.ParseInt(m.Header.Get(hdrAt), 10, 64)
	if err != nil || at <= 0 {
		return store.PolicyActivation{}, errors.New("no activation time")
	}
	act := store.PolicyActivation{At: time.UnixMilli(at).UTC(), Actor: m.Header.Get(hdrActor), Name: m.Header.Get(hdrName),
		Version: m.Header.Get(hdrVersion), Source: m.Data}
	if act.Version == "" || act.Actor == "" {
		return store.PolicyActivation{}, errors.New("no version or actor")
	}
	return act, nil
}

// Close stops following.
func (f *Follower) Close() {
	if f != nil && f.sub != nil {
		_ = f.sub.Unsubscribe()
	}
}
