package server_test

import (
	"net/http"
	"testing"

	"github.com/meridian-video/meridian/internal/server/servertest"
	"github.com/meridian-video/meridian/internal/topology"
)

// Three regions, two nodes in one: every node comes up with its control plane, hears
// every other node with the URLs it announces, and says so on /healthz.
func TestDeploymentNodesHearEachOther(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{
		Regions: []string{"us-west:US", "eu-central:EU", "cn-north:CN"}, Nodes: 2, Capacity: 7,
	})
	if len(d.Nodes) != 6 {
		t.Fatalf("%d nodes, want 6", len(d.Nodes))
	}
	for _, n := range d.Nodes {
		snap := n.Registry.Snapshot()
		if len(snap) != 6 {
			t.Fatalf("%s hears %d nodes, want 6: %+v", n.NodeID(), len(snap), snap)
		}
		for _, h := range snap {
			peer := d.Node(h.ID)
			if peer == nil || h.Region != peer.Region() || h.HTTPURL != peer.URL() || h.SignalURL != "ws://"+peer.Addr()+"/ws" ||
				h.Capacity != 7 || h.Draining || h.Fingerprint != d.Deployment.Fingerprint() {
				t.Fatalf("%s hears %+v", n.NodeID(), h)
			}
		}
		resp, err := http.Get(n.URL() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s /healthz: %s", n.NodeID(), resp.Status)
		}
	}
	if got := d.Region("cn-north"); len(got) != 2 || got[0].NodeID() != "cn-north-1" {
		t.Fatalf("region cn-north: %v", got)
	}
}

// A node started with no configuration is one region, one node, with its embedded control
// plane answering by the time Start returns.
func TestStandaloneNodeIsReadyAtStart(t *testing.T) {
	srv := startServer(t)
	if err := srv.ControlPlaneErr(); err != nil {
		t.Fatal(err)
	}
	snap := srv.Registry.Snapshot()
	if len(snap) != 1 || snap[0].ID != "local-1" || snap[0].Region != topology.DefaultRegion || snap[0].Capacity != 1000 {
		t.Fatalf("registry %+v", snap)
	}
	resp, err := http.Get(srv.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}
}

// A node whose control plane stops answering reports not ready and its health check
// fails (fail closed).
func TestNodeWithoutControlPlaneIsNotReady(t *testing.T) {
	srv := startServer(t)
	srv.Bus.Close()
	resp, err := http.Get(srv.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || srv.ControlPlaneErr() == nil {
		t.Fatalf("/healthz with the bus closed: %s, %v", resp.Status, srv.ControlPlaneErr())
	}
}
