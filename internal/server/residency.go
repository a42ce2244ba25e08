package server

import (
	"fmt"
	"net/http"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/residency"
	"github.com/meridian-video/meridian/internal/topology"
)

// dataResidency keeps each account's data in its home region: the routing facts the
// account and meeting services record, and the forwarding of requests homed elsewhere.
// It is nil in a one-region deployment, where everything is homed here, and on a
// standalone node.
type dataResidency struct {
	facts      *residency.Facts
	forwardKey []byte
	fwd        *residency.Forwarder
}

func newDataResidency(cfg config.Config, dep topology.Deployment) (*dataResidency, error) {
	// A standalone node has no other node to forward to or share a directory with, even
	// configured with a list of several regions: it serves its own region's accounts, and
	// refuses sign-ups homed elsewhere (home_region_elsewhere).
	if len(dep.Regions) < 2 || cfg.Bus.Standalone() {
		return nil, nil
	}
	// Multi-region nodes share the bus secret (secret_file is required with gateways):
	// the directory secret and the forwarding key are derived from it.
	shared, err := cfg.BusSecret()
	if err != nil {
		return nil, err
	}
	if shared == "" {
		return nil, fmt.Errorf("data residency: a deployment of %d regions needs the bus secret_file", len(dep.Regions))
	}
	dirSecret, forwardKey := residency.Keys([]byte(shared))
	return &dataResidency{facts: &residency.Facts{Region: cfg.Region, Secret: dirSecret}, forwardKey: forwardKey}, nil
}

func (r *dataResidency) accountRouting() account.Routing {
	if r == nil {
		return nil
	}
	return r.facts
}

func (r *dataResidency) meetingRouting() meeting.Routing {
	if r == nil {
		return nil
	}
	return r.facts
}

// wrap connects the facts to s's directory, which exists only once the control plane
// started (and before any request is served), and forwards what handler must not serve.
func (r *dataResidency) wrap(s *Server, handler http.Handler) (http.Handler, error) {
	if r == nil {
		return handler, nil
	}
	r.facts.Dir = s.Directory
	fwd, err := residency.New(residency.Config{
		Deployment: s.Deployment, Region: s.Region(), Node: s.NodeID(),
		Dir: s.Directory, Nodes: s.Registry.Snapshot,
		DirectorySecret: r.facts.Secret, ForwardKey: r.forwardKey,
		Audit: s.Audit, Log: s.log,
	})
	if err != nil {
		return nil, err
	}
	r.fwd = fwd
	return fwd.Wrap(handler), nil
}

func (r *dataResidency) close() {
	if r != nil && r.fwd != nil {
		r.fwd.Close()
	}
}
