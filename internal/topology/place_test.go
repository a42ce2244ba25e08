package topology

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// testDeployment is four regions; cn-north is opt-in.
func testDeployment() Deployment {
	return Deployment{Regions: []Region{
		{ID: "us-west", Jurisdiction: "US", Name: "US West (Oregon)", Location: LatLng{45.6, -121.2}},
		{ID: "us-east", Jurisdiction: "US", Name: "US East (Virginia)", Location: LatLng{39.0, -77.5}},
		{ID: "eu-central", Jurisdiction: "EU", Name: "EU Central (Frankfurt)", Location: LatLng{50.1, 8.7}},
		{ID: "cn-north", Jurisdiction: "CN", Name: "CN North (Beijing)", Location: LatLng{39.9, 116.4}, OptIn: true},
	}}
}

var (
	testNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	paris   = &LatLng{48.9, 2.35}
	beijing = &LatLng{39.9, 116.4}
	oregon  = &LatLng{45.5, -122.7}
)

// node is a healthy, empty node of capacity 10, changed by opts.
func node(id, region string, opts ...func(*NodeInfo)) NodeInfo {
	n := NodeInfo{ID: id, Region: region, HTTPURL: "https://" + id + ".example", SignalURL: "wss://" + id + ".example/ws",
		Capacity: 10, Fingerprint: testDeployment().Fingerprint(), Seen: testNow.Add(-500 * time.Millisecond)}
	for _, o := range opts {
		o(&n)
	}
	return n
}

func load(l int) func(*NodeInfo)             { return func(n *NodeInfo) { n.Load = l } }
func capacity(c int) func(*NodeInfo)         { return func(n *NodeInfo) { n.Capacity = c } }
func full(n *NodeInfo)                       { n.Load = n.Capacity }
func draining(n *NodeInfo)                   { n.Draining = true }
func silent(d time.Duration) func(*NodeInfo) { return func(n *NodeInfo) { n.Seen = testNow.Add(-d) } }
func otherConfig(n *NodeInfo)                { n.Fingerprint = strings.Repeat("0", 64) }

func TestPlace(t *testing.T) {
	all := []string{"us-west", "us-east", "eu-central"}
	cases := []struct {
		name    string
		nodes   []NodeInfo
		allowed []string
		carrier string
		from    Origin
		// want is the chosen node's id; empty when a refusal is expected.
		want     string
		sticky   bool
		failover bool
		// tried is "region:reason" per region of the refusal, nearest first.
		tried []string
		code  string // an error other than a refusal
	}{
		{name: "nearest allowed region to a location",
			nodes:   []NodeInfo{node("w1", "us-west"), node("e1", "us-east"), node("f1", "eu-central")},
			allowed: all, from: Origin{Location: paris}, want: "f1"},
		{name: "nearest to the entry node's region",
			nodes:   []NodeInfo{node("w1", "us-west"), node("e1", "us-east"), node("f1", "eu-central")},
			allowed: all, from: Origin{Region: "us-east"}, want: "e1"},
		{name: "nearest to the GeoIP jurisdiction's regions",
			nodes:   []NodeInfo{node("w1", "us-west"), node("e1", "us-east"), node("f1", "eu-central")},
			allowed: all, from: Origin{Jurisdiction: "EU"}, want: "f1"},
		{name: "a location wins over the entry region",
			nodes:   []NodeInfo{node("w1", "us-west"), node("f1", "eu-central")},
			allowed: all, from: Origin{Location: oregon, Region: "eu-central"}, want: "w1"},
		{name: "nothing known of the participant: lowest region id",
			nodes:   []NodeInfo{node("w1", "us-west"), node("e1", "us-east"), node("f1", "eu-central")},
			allowed: all, want: "f1"},
		{name: "least loaded in the region",
			nodes:   []NodeInfo{node("f1", "eu-central", load(5)), node("f2", "eu-central", load(3)), node("w1", "us-west")},
			allowed: all, from: Origin{Location: paris}, want: "f2"},
		{name: "load counts relative to capacity",
			nodes:   []NodeInfo{node("f1", "eu-central", load(5)), node("f2", "eu-central", capacity(100), load(10))},
			allowed: all, from: Origin{Location: paris}, want: "f2"},
		{name: "equal load: lower node id, whatever the snapshot's order",
			nodes:   []NodeInfo{node("f2", "eu-central", load(1)), node("f1", "eu-central", load(1))},
			allowed: all, from: Origin{Location: paris}, want: "f1"},
		{name: "equal distance: lower region id",
			nodes:   []NodeInfo{node("w1", "us-west"), node("e1", "us-east")},
			allowed: []string{"us-west", "us-east"}, from: Origin{Jurisdiction: "US"}, want: "e1"},
		{name: "full region: the next allowed one",
			nodes:   []NodeInfo{node("f1", "eu-central", full), node("e1", "us-east"), node("w1", "us-west")},
			allowed: all, from: Origin{Location: paris}, want: "e1"},
		{name: "full region: never a forbidden one with room, however near",
			nodes:   []NodeInfo{node("f1", "eu-central", full), node("c1", "cn-north"), node("w1", "us-west")},
			allowed: []string{"eu-central", "us-west"}, from: Origin{Location: beijing}, want: "w1"},
		{name: "forbidden region with room, allowed all full: refused",
			nodes:   []NodeInfo{node("f1", "eu-central", full), node("f2", "eu-central", load(12)), node("c1", "cn-north"), node("w1", "us-west", full)},
			allowed: []string{"eu-central", "us-west"}, from: Origin{Location: beijing},
			tried: []string{"eu-central:all_full", "us-west:all_full"}},
		{name: "allowed all down: refused",
			nodes:   []NodeInfo{node("w1", "us-west", silent(3*time.Second)), node("w2", "us-west", silent(time.Minute)), node("c1", "cn-north")},
			allowed: []string{"us-west"}, from: Origin{Location: beijing}, tried: []string{"us-west:all_down"}},
		{name: "silent for just under 3 s is up",
			nodes:   []NodeInfo{node("w1", "us-west", silent(3*time.Second-time.Millisecond))},
			allowed: []string{"us-west"}, want: "w1"},
		{name: "silent for 3 s is down",
			nodes:   []NodeInfo{node("w1", "us-west", silent(3*time.Second)), node("w2", "us-west", load(9))},
			allowed: []string{"us-west"}, want: "w2"},
		{name: "never seen is down",
			nodes:   []NodeInfo{node("w1", "us-west", func(n *NodeInfo) { n.Seen = time.Time{} })},
			allowed: []string{"us-west"}, tried: []string{"us-west:all_down"}},
		{name: "seen far in the future is a broken clock, down",
			nodes:   []NodeInfo{node("w1", "us-west", silent(-time.Hour))},
			allowed: []string{"us-west"}, tried: []string{"us-west:all_down"}},
		{name: "draining skipped",
			nodes:   []NodeInfo{node("f1", "eu-central", draining), node("f2", "eu-central", load(8))},
			allowed: all, from: Origin{Location: paris}, want: "f2"},
		{name: "allowed all draining: refused",
			nodes:   []NodeInfo{node("f1", "eu-central", draining), node("w1", "us-west", draining)},
			allowed: []string{"eu-central", "us-west"}, from: Origin{Location: paris},
			tried: []string{"eu-central:all_draining", "us-west:all_draining"}},
		{name: "another region list skipped",
			nodes:   []NodeInfo{node("f1", "eu-central", otherConfig), node("e1", "us-east")},
			allowed: all, from: Origin{Location: paris}, want: "e1"},
		{name: "allowed all of another region list: refused",
			nodes:   []NodeInfo{node("f1", "eu-central", otherConfig)},
			allowed: []string{"eu-central"}, tried: []string{"eu-central:config_mismatch"}},
		{name: "no nodes, and each node out for another reason",
			nodes: []NodeInfo{node("f1", "eu-central", full), node("f2", "eu-central", draining), node("f3", "eu-central", silent(time.Hour)),
				node("f4", "eu-central", otherConfig), node("c1", "cn-north")},
			allowed: all, from: Origin{Location: paris},
			tried: []string{"eu-central:unavailable", "us-east:no_nodes", "us-west:no_nodes"}},
		{name: "later join sticks to the carrier, though not nearest nor least loaded",
			nodes:   []NodeInfo{node("f1", "eu-central"), node("w1", "us-west", load(7)), node("w2", "us-west")},
			allowed: all, carrier: "w1", from: Origin{Location: paris}, want: "w1", sticky: true},
		{name: "a draining carrier keeps its live meeting",
			nodes:   []NodeInfo{node("f1", "eu-central"), node("w1", "us-west", draining)},
			allowed: all, carrier: "w1", from: Origin{Location: paris}, want: "w1", sticky: true},
		{name: "a full carrier refuses rather than split the meeting",
			nodes:   []NodeInfo{node("f1", "eu-central"), node("w1", "us-west", full)},
			allowed: all, carrier: "w1", tried: []string{"us-west:carrier_full"}},
		{name: "a draining, full carrier refuses too",
			nodes:   []NodeInfo{node("f1", "eu-central"), node("w1", "us-west", draining, full)},
			allowed: all, carrier: "w1", tried: []string{"us-west:carrier_full"}},
		{name: "carrier down: failover to the nearest allowed node",
			nodes:   []NodeInfo{node("f1", "eu-central", silent(4*time.Second)), node("f2", "eu-central", load(2)), node("w1", "us-west")},
			allowed: all, carrier: "f1", from: Origin{Location: paris}, want: "f2", failover: true},
		{name: "carrier gone from the registry: failover",
			nodes:   []NodeInfo{node("w1", "us-west")},
			allowed: all, carrier: "f1", from: Origin{Location: paris}, want: "w1", failover: true},
		{name: "carrier down, only a forbidden region has room: refused",
			nodes:   []NodeInfo{node("w1", "us-west", silent(5*time.Second)), node("c1", "cn-north")},
			allowed: []string{"us-west"}, carrier: "w1", from: Origin{Location: beijing}, tried: []string{"us-west:all_down"}},
		{name: "carrier outside the allowed set is never joined",
			nodes:   []NodeInfo{node("c1", "cn-north"), node("w1", "us-west")},
			allowed: []string{"us-west"}, carrier: "c1", from: Origin{Location: beijing}, want: "w1", failover: true},
		{name: "carrier of another region list: failover",
			nodes:   []NodeInfo{node("w1", "us-west", otherConfig), node("w2", "us-west")},
			allowed: []string{"us-west"}, carrier: "w1", want: "w2", failover: true},
		{name: "empty allowed set: refused (fail closed)",
			nodes: []NodeInfo{node("w1", "us-west")}, tried: []string{}},
		{name: "allowed set naming an unknown region: refused (fail closed)",
			nodes:   []NodeInfo{node("w1", "us-west"), node("x1", "ap-south")},
			allowed: []string{"us-west", "ap-south"}, tried: []string{"ap-south:unknown_region"}},
		{name: "unknown entry region",
			nodes: []NodeInfo{node("w1", "us-west")}, allowed: all, from: Origin{Region: "ap-south"}, code: CodeUnknownRegion},
		{name: "location off the globe",
			nodes: []NodeInfo{node("w1", "us-west")}, allowed: all, from: Origin{Location: &LatLng{91, 0}}, code: CodeInvalidInput},
		{name: "malformed jurisdiction",
			nodes: []NodeInfo{node("w1", "us-west")}, allowed: all, from: Origin{Jurisdiction: "usa"}, code: CodeInvalidInput},
	}
	dep := testDeployment()
	fp := dep.Fingerprint()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			allowed, err := NewAllowedSet(c.allowed...)
			if err != nil {
				t.Fatal(err)
			}
			in := PlacementInput{Deployment: dep, Fingerprint: fp, Nodes: c.nodes, Now: testNow,
				Allowed: allowed, Carrier: c.carrier, From: c.from}
			got, err := Place(in)
			checkNeverSpills(t, in, got, err)
			switch {
			case c.code != "":
				if code, _, _ := CodeOf(err); code != c.code {
					t.Fatalf("got %+v, %v; want error %s", got, err, c.code)
				}
			case c.tried != nil:
				var r *Refusal
				if !errors.As(err, &r) {
					t.Fatalf("got %s, %v; want a refusal", got.Node.ID, err)
				}
				if tried := triedOf(r); !slices.Equal(tried, c.tried) {
					t.Errorf("tried %v; want %v", tried, c.tried)
				}
				if !errors.Is(err, ErrNoAllowedCapacity) {
					t.Errorf("%v does not match ErrNoAllowedCapacity", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if got.Node.ID != c.want || got.Sticky != c.sticky || got.Failover != c.failover {
					t.Errorf("got %s sticky=%v failover=%v; want %s sticky=%v failover=%v",
						got.Node.ID, got.Sticky, got.Failover, c.want, c.sticky, c.failover)
				}
			}
		})
	}
}

func triedOf(r *Refusal) []string {
	out := []string{}
	for _, t := range r.Tried {
		out = append(out, t.Region+":"+t.Reason)
	}
	return out
}

// checkNeverSpills asserts what holds for every placement: a chosen node is of an allowed
// region, and a refusal tells nothing of a region outside the allowed set.
func checkNeverSpills(t *testing.T, in PlacementInput, got Placement, err error) {
	t.Helper()
	if err == nil && !in.Allowed.Contains(got.Node.Region) {
		t.Fatalf("placed on %s in %s, outside the allowed set %v", got.Node.ID, got.Node.Region, in.Allowed)
	}
	var r *Refusal
	if !errors.As(err, &r) {
		return
	}
	for _, tr := range r.Tried {
		if !in.Allowed.Contains(tr.Region) {
			t.Fatalf("refusal names %s, outside the allowed set %v", tr.Region, in.Allowed)
		}
	}
	for _, n := range in.Nodes {
		if !in.Allowed.Contains(n.Region) && (strings.Contains(r.Error(), n.Region) || strings.Contains(r.Error(), n.ID)) {
			t.Fatalf("refusal %q speaks of %s in forbidden %s", r.Error(), n.ID, n.Region)
		}
	}
}

func TestPlaceDownAfter(t *testing.T) {
	dep := testDeployment()
	allowed, _ := NewAllowedSet("us-west")
	in := PlacementInput{Deployment: dep, Fingerprint: dep.Fingerprint(), Now: testNow, Allowed: allowed,
		Nodes: []NodeInfo{node("w1", "us-west", silent(5*time.Second))}}
	if _, err := Place(in); !errors.Is(err, ErrNoAllowedCapacity) {
		t.Fatalf("silent 5 s with the default: %v; want a refusal", err)
	}
	in.DownAfter = 10 * time.Second
	if got, err := Place(in); err != nil || got.Node.ID != "w1" {
		t.Fatalf("silent 5 s, down after 10 s: %+v, %v; want w1", got, err)
	}
}

func TestPlaceFailsClosed(t *testing.T) {
	dep := testDeployment()
	allowed, _ := NewAllowedSet("us-west")
	in := PlacementInput{Deployment: dep, Now: testNow, Allowed: allowed, Nodes: []NodeInfo{node("w1", "us-west")}}
	if _, err := Place(in); !errors.Is(err, ErrNoAllowedCapacity) {
		t.Errorf("without the deployment's fingerprint: %v; want a refusal", err)
	}
	in.Fingerprint = dep.Fingerprint()
	in.Now = time.Time{}
	if _, err := Place(in); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("without the time: %v; want invalid input", err)
	}
}

func TestRefusalMessage(t *testing.T) {
	r := &Refusal{Tried: []RegionAttempt{{Region: "eu-central", Reason: ReasonAllFull, Nodes: 2, Full: 2},
		{Region: "us-east", Reason: ReasonAllDown, Nodes: 1, Down: 1},
		{Region: "us-west", Reason: ReasonUnavailable, Nodes: 2, Down: 1, Draining: 1}}}
	want := "no region this meeting allows can take the join, and regions it does not allow are never used: " +
		"eu-central: all 2 nodes full; us-east: its only node down; " +
		"us-west: none of 2 nodes can take it (1 down, 0 with another region list, 1 draining, 0 full)"
	if got := r.Message(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if code, msg, ok := CodeOf(fmt.Errorf("join: %w", r)); !ok || code != CodeNoAllowedCapacity || msg != want {
		t.Errorf("CodeOf: %s %q %v", code, msg, ok)
	}
}

// TestPlaceProperties places joins on random topologies: a chosen node is always of an
// allowed region and fit to take the join, and a join is refused only when no allowed node
// is fit.
func TestPlaceProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2026))
	for iter := range 3000 {
		in := randomInput(rng)
		got, err := Place(in)
		checkNeverSpills(t, in, got, err)
		fit := func(n NodeInfo, carrier bool) bool {
			age := in.Now.Sub(n.Seen)
			return in.Allowed.Contains(n.Region) && !n.Seen.IsZero() && age < DefaultDownAfter && age > -DefaultDownAfter &&
				n.Fingerprint == in.Fingerprint && (carrier || !n.Draining) && n.Load < n.Capacity
		}
		var r *Refusal
		switch {
		case err == nil:
			if !fit(got.Node, got.Sticky) {
				t.Fatalf("%d: placed on %+v, which is not fit", iter, got.Node)
			}
			if got.Sticky != (got.Node.ID == in.Carrier) {
				t.Fatalf("%d: sticky=%v for %s, carrier %q", iter, got.Sticky, got.Node.ID, in.Carrier)
			}
		case errors.As(err, &r):
			if len(r.Tried) == 1 && r.Tried[0].Reason == ReasonCarrierFull {
				continue
			}
			for _, n := range in.Nodes {
				if fit(n, false) {
					t.Fatalf("%d: refused %v while %+v was fit", iter, r, n)
				}
			}
		default:
			t.Fatalf("%d: %v", iter, err)
		}
	}
}

func randomInput(rng *rand.Rand) PlacementInput {
	var dep Deployment
	for i := range 1 + rng.IntN(10) {
		dep.Regions = append(dep.Regions, Region{ID: fmt.Sprintf("r%d", i), Jurisdiction: []string{"US", "EU", "CN", "JP"}[rng.IntN(4)],
			Name: "R", Location: LatLng{rng.Float64()*180 - 90, rng.Float64()*360 - 180}, OptIn: rng.IntN(3) == 0})
	}
	fp := dep.Fingerprint()
	var ids []string
	for _, r := range dep.Regions {
		if rng.IntN(2) == 0 {
			ids = append(ids, r.ID)
		}
	}
	allowed, _ := NewAllowedSet(ids...)
	var nodes []NodeInfo
	for i := range rng.IntN(30) {
		n := NodeInfo{ID: fmt.Sprintf("n%d", i), Region: dep.Regions[rng.IntN(len(dep.Regions))].ID,
			Capacity: 1 + rng.IntN(5), Fingerprint: fp, Draining: rng.IntN(5) == 0,
			Seen: testNow.Add(-time.Duration(rng.IntN(4500)) * time.Millisecond)}
		n.Load = rng.IntN(n.Capacity + 2)
		if rng.IntN(8) == 0 {
			n.Fingerprint = "other"
		}
		nodes = append(nodes, n)
	}
	in := PlacementInput{Deployment: dep, Fingerprint: fp, Nodes: nodes, Now: testNow, Allowed: allowed}
	if len(nodes) > 0 && rng.IntN(2) == 0 {
		in.Carrier = nodes[rng.IntN(len(nodes))].ID
	}
	switch rng.IntN(4) {
	case 0:
		in.From.Location = &LatLng{rng.Float64()*180 - 90, rng.Float64()*360 - 180}
	case 1:
		in.From.Region = dep.Regions[rng.IntN(len(dep.Regions))].ID
	case 2:
		in.From.Jurisdiction = []string{"US", "EU", "CN", "JP", "BR"}[rng.IntN(5)]
	}
	return in
}

func TestDistanceKm(t *testing.T) {
	// Paris to New York is about 5837 km on the great circle.
	if d := distanceKm(LatLng{48.8566, 2.3522}, LatLng{40.7128, -74.0060}); d < 5800 || d > 5870 {
		t.Errorf("Paris to New York: %.0f km", d)
	}
	if d := distanceKm(LatLng{0, 179.5}, LatLng{0, -179.5}); d > 120 {
		t.Errorf("across the antimeridian: %.0f km", d)
	}
}

func BenchmarkPlace(b *testing.B) {
	for _, size := range []struct{ regions, nodes int }{{3, 2}, {10, 20}} {
		b.Run(fmt.Sprintf("%dregions_x%dnodes", size.regions, size.nodes), func(b *testing.B) {
			var dep Deployment
			var ids []string
			for i := range size.regions {
				id := fmt.Sprintf("region-%02d", i)
				dep.Regions = append(dep.Regions, Region{ID: id, Jurisdiction: "EU", Name: id,
					Location: LatLng{float64(i*7 - 40), float64(i*30 - 150)}})
				ids = append(ids, id)
			}
			fp := dep.Fingerprint()
			var nodes []NodeInfo
			for i := range size.regions {
				for j := range size.nodes {
					nodes = append(nodes, NodeInfo{ID: fmt.Sprintf("n-%02d-%02d", i, j), Region: ids[i],
						Capacity: 100, Load: (i*size.nodes + j*7) % 90, Fingerprint: fp, Seen: testNow})
				}
			}
			allowed, _ := NewAllowedSet(ids...)
			in := PlacementInput{Deployment: dep, Fingerprint: fp, Nodes: nodes, Now: testNow, Allowed: allowed,
				From: Origin{Location: &LatLng{48.9, 2.35}}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Place(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
