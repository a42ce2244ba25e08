package account

import (
	"fmt"

	"github.com/meridian-video/meridian/internal/topology"
)

// regions is the deployment a Service runs in and the region of its node.
type regions struct {
	dep  topology.Deployment
	self topology.Region
}

func newRegions(dep topology.Deployment, self string) (regions, error) {
	if len(dep.Regions) == 0 {
		dep = topology.Default()
	}
	if self == "" {
		self = topology.DefaultRegion
	}
	if err := dep.Validate(); err != nil {
		return regions{}, fmt.Errorf("account: %w", err)
	}
	r, ok := dep.Lookup(self)
	if !ok {
		return regions{}, fmt.Errorf("account: this node's region %q is not in the region list", self)
	}
	return regions{dep: dep, self: r}, nil
}

// Deployment is the region list the service runs in.
func (s *Service) Deployment() topology.Deployment { return s.regions.dep }

// Region is this node's region: the home region of every account its store holds.
func (s *Service) Region() topology.Region { return s.regions.self }
