package residency

import (
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/topology"
)

func TestPickHomeNode(t *testing.T) {
	dep := topology.Deployment{Regions: []topology.Region{
		{ID: "us-west", Jurisdiction: "US", Name: "US West", Location: topology.LatLng{Lat: 45.6, Lng: -121.2}},
		{ID: "eu-central", Jurisdiction: "EU", Name: "EU Central", Location: topology.LatLng{Lat: 50.1, Lng: 8.7}},
	}}
	fp := dep.Fingerprint()
	n := func(id, region string, load int, draining bool, seen time.Time) topology.NodeInfo {
		return topology.NodeInfo{ID: id, Region: region, HTTPURL: "http://" + id, Capacity: 10, Load: load,
			Draining: draining, Fingerprint: fp, Seen: seen}
	}
	stale := t0.Add(-topology.DefaultDownAfter)
	cases := []struct {
		name  string
		nodes []topology.NodeInfo
		want  string // "" for none
	}{
		{"least loaded", []topology.NodeInfo{n("eu-1", "eu-central", 5, false, t0), n("eu-2", "eu-central", 2, false, t0)}, "eu-2"},
		{"tie by id", []topology.NodeInfo{n("eu-2", "eu-central", 2, false, t0), n("eu-1", "eu-central", 2, false, t0)}, "eu-1"},
		{"not draining first", []topology.NodeInfo{n("eu-1", "eu-central", 0, true, t0), n("eu-2", "eu-central", 9, false, t0)}, "eu-2"},
		{"draining if all are", []topology.NodeInfo{n("eu-1", "eu-central", 0, true, t0)}, "eu-1"},
		{"down is never chosen", []topology.NodeInfo{n("eu-1", "eu-central", 0, false, stale)}, ""},
		{"another region never", []topology.NodeInfo{n("us-1", "us-west", 0, false, t0)}, ""},
		{"another region list never", []topology.NodeInfo{func() topology.NodeInfo {
			x := n("eu-1", "eu-central", 0, false, t0)
			x.Fingerprint = "0000000000000000000000000000000000000000000000000000000000000000"
			return x
		}()}, ""},
		{"itself never", []topology.NodeInfo{n("us-2", "eu-central", 0, false, t0)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &Forwarder{cfg: Config{Node: "us-2", Nodes: func() []topology.NodeInfo { return c.nodes }, Now: func() time.Time { return t0 }}, fp: fp}
			got, ok := f.pick("eu-central")
			if (c.want == "") == ok || (ok && got.ID != c.want) {
				t.Fatalf("picked %q (%v), want %q", got.ID, ok, c.want)
			}
		})
	}
}
