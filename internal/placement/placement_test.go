package placement_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/bus/bustest"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/placement"
	"github.com/meridian-video/meridian/internal/topology"
)

func deployment() topology.Deployment {
	return topology.Deployment{Regions: []topology.Region{
		{ID: "us-west", Jurisdiction: "US", Name: "US West", Location: topology.LatLng{Lat: 45.6, Lng: -121.2}},
		{ID: "eu-central", Jurisdiction: "EU", Name: "EU Central", Location: topology.LatLng{Lat: 50.1, Lng: 8.7}},
		{ID: "cn-north", Jurisdiction: "CN", Name: "CN North", Location: topology.LatLng{Lat: 39.9, Lng: 116.4}, OptIn: true},
	}}
}

// openDirectory is a real directory on a standalone bus of region us-west, the meetings'
// home region. The other regions never start, so its view does not wait for their
// buckets.
func openDirectory(t *testing.T) *directory.Directory {
	t.Helper()
	b, err := bus.Start(context.Background(), bus.Config{NodeID: "us-west-1", Region: "us-west",
		StoreDir: filepath.Join(t.TempDir(), "nats"), Secret: bustest.Secret}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	d, err := directory.Open(context.Background(), b, directory.Config{Deployment: deployment(), SourceWait: time.Millisecond}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// nodes is a registry snapshot: the registry's output, fixed for the test.
type nodes []topology.NodeInfo

func (n nodes) Snapshot() []topology.NodeInfo { return append([]topology.NodeInfo(nil), n...) }

func node(id, region string, load int, seen time.Time) topology.NodeInfo {
	return topology.NodeInfo{ID: id, Region: region, HTTPURL: "http://" + id, SignalURL: "ws://" + id + "/ws",
		Capacity: 10, Load: load, Fingerprint: deployment().Fingerprint(), Seen: seen}
}

func allowed(t *testing.T, ids ...string) topology.AllowedSet {
	t.Helper()
	s, err := topology.NewAllowedSet(ids...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPlaceRecordsTheCarrierAndSticksToIt(t *testing.T) {
	d := openDirectory(t)
	now := time.Now()
	reg := nodes{node("us-west-1", "us-west", 5, now), node("us-west-2", "us-west", 1, now), node("cn-north-1", "cn-north", 0, now)}
	p := &placement.Placer{Deployment: deployment(), Region: "us-west", Directory: d, Registry: reg}
	ctx := t.Context()
	req := meeting.PlaceRequest{MeetingID: "11111111111", Allowed: allowed(t, "us-west"), From: topology.Origin{Region: "cn-north"}}
	n, err := p.Place(ctx, req)
	if err != nil || n.ID != "us-west-2" || n.Region != "us-west" || n.SignalURL != "ws://us-west-2/ws" {
		t.Fatalf("first join entering through cn-north: %+v %v; want us-west-2 (least loaded of the allowed region)", n, err)
	}
	if m, err := d.Meeting(ctx, req.MeetingID); err != nil || m.Node != "us-west-2" || !m.Allowed.Equal(req.Allowed) {
		t.Fatalf("directory %+v %v", m, err)
	}
	// Later joins go to the carrier, even when another node is now less loaded.
	reg[1].Load, reg[0].Load = 8, 0
	if n, err := p.Place(ctx, req); err != nil || n.ID != "us-west-2" {
		t.Fatalf("second join: %+v %v, want the carrier us-west-2", n, err)
	}
	// The carrier goes silent: the meeting fails over to the other allowed node.
	reg[1].Seen = now.Add(-time.Minute)
	if n, err := p.Place(ctx, req); err != nil || n.ID != "us-west-1" {
		t.Fatalf("after the carrier died: %+v %v, want us-west-1", n, err)
	}
	if m, err := d.Meeting(ctx, req.MeetingID); err != nil || m.Node != "us-west-1" {
		t.Fatalf("directory after failover %+v %v", m, err)
	}
	// The allowed region is full: refused with the regions tried, never spilled to
	// cn-north, which has room.
	reg[0].Load = 10
	_, err = p.Place(ctx, req)
	var r *topology.Refusal
	if !errors.As(err, &r) || len(r.Tried) != 1 || r.Tried[0].Region != "us-west" {
		t.Fatalf("allowed region full: %v", err)
	}
}

// Two nodes placing one meeting at once, from different origins that would each choose a
// different region: both end up with the same carrier.
func TestConcurrentFirstJoinsAgreeOnOneCarrier(t *testing.T) {
	d := openDirectory(t)
	now := time.Now()
	reg := nodes{node("us-west-1", "us-west", 0, now), node("eu-central-1", "eu-central", 0, now)}
	set := allowed(t, "eu-central", "us-west")
	for i := range 20 {
		id := fmt.Sprintf("2222222%04d", i)
		var wg sync.WaitGroup
		got := make([]meeting.Node, 2)
		errs := make([]error, 2)
		for j, from := range []string{"us-west", "eu-central"} {
			p := &placement.Placer{Deployment: deployment(), Region: "us-west", Directory: d, Registry: reg}
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[j], errs[j] = p.Place(t.Context(), meeting.PlaceRequest{MeetingID: id, Allowed: set, From: topology.Origin{Region: from}})
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || got[0].ID != got[1].ID {
			t.Fatalf("meeting %s: %+v %v / %+v %v: two carriers", id, got[0], errs[0], got[1], errs[1])
		}
	}
}

func TestPlaceRefusesWithoutControlPlane(t *testing.T) {
	d := openDirectory(t)
	reg := nodes{node("us-west-1", "us-west", 0, time.Now())}
	down := errors.New("bus disconnected")
	p := &placement.Placer{Deployment: deployment(), Region: "us-west", Directory: d, Registry: reg, Ready: func() error { return down }}
	_, err := p.Place(t.Context(), meeting.PlaceRequest{MeetingID: "33333333333", Allowed: allowed(t, "us-west")})
	if !errors.Is(err, placement.ErrNotReady) {
		t.Fatalf("Place with the control plane down: %v, want ErrNotReady", err)
	}
	if _, err := d.Meeting(t.Context(), "33333333333"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("a refused placement wrote the directory: %v", err)
	}
}
