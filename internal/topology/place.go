package topology

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// DefaultDownAfter is how long a node may be silent before it counts as down: three
// heartbeats of about a second.
const DefaultDownAfter = 3 * time.Second

// Origin is where a joining participant is, as well as it is known. Place uses the most
// precise field given: Location, then Jurisdiction, then Region. With none, every allowed
// region is equally near and the first by id wins.
type Origin struct {
	// Location is a position, from GeoIP down to the city, say.
	Location *LatLng
	// Jurisdiction is that of the participant's GeoIP country: the regions of that
	// jurisdiction count as where the participant is.
	Jurisdiction string
	// Region is the region of the node the join came in through.
	Region string
}

// PlacementInput is everything placement depends on.
type PlacementInput struct {
	Deployment Deployment
	// Fingerprint is Deployment.Fingerprint(), computed once by the caller. A node
	// announcing another is never chosen; an empty one refuses every node (fail closed).
	Fingerprint string
	// Nodes is the registry's snapshot, with each node's Seen.
	Nodes []NodeInfo
	Now   time.Time
	// DownAfter is how long a node may be silent and still count as up; DefaultDownAfter
	// when zero.
	DownAfter time.Duration
	// Allowed is the meeting's allowed set.
	Allowed AllowedSet
	// Carrier is the id of the node carrying the meeting, or empty if it is not live.
	Carrier string
	From    Origin
	// Channel is the sales channel of the meeting's account ("direct" or a partner id):
	// a partner's region in the allowed set of anyone else's meeting refuses the join.
	// Empty counts as direct.
	Channel string
}

// Placement is the node a join goes to.
type Placement struct {
	Node NodeInfo
	// Sticky: the node already carries the meeting.
	Sticky bool
	// Failover: the meeting had a carrier that is down or no longer fit to carry it (gone
	// from the registry, of another region list, or outside the allowed set), so Node is a
	// new one and the directory's carrying node must change.
	Failover bool
}

// Why a region could not take a join, in a Refusal.
const (
	ReasonNoNodes        = "no_nodes"        // no node of the region is registered
	ReasonAllDown        = "all_down"        // every node silent for DownAfter or more
	ReasonAllDraining    = "all_draining"    // every node draining
	ReasonAllFull        = "all_full"        // every node at capacity
	ReasonConfigMismatch = "config_mismatch" // every node announcing another region list
	ReasonUnavailable    = "unavailable"     // each node out for one of the reasons above
	ReasonUnknownRegion  = "unknown_region"  // the allowed set names a region not in the deployment
	ReasonCarrierFull    = "carrier_full"    // the meeting's node is at capacity
	ReasonPartnerRegion  = "partner_region"  // the allowed set names a partner's region, and the meeting is not its customer's
)

// RegionAttempt is one allowed region placement tried, and why it could not take the join,
// with the count of its nodes out for each reason.
type RegionAttempt struct {
	Region   string `json:"region"`
	Reason   string `json:"reason"`
	Nodes    int    `json:"nodes"`
	Down     int    `json:"down"`
	Mismatch int    `json:"config_mismatch"`
	Draining int    `json:"draining"`
	Full     int    `json:"full"`
}

// Refusal is a join no allowed region can take. Its code is no_allowed_capacity and it
// matches ErrNoAllowedCapacity under errors.Is. Tried lists the allowed regions, nearest
// first; it says nothing of regions outside the allowed set, which are never used whatever
// room they have.
type Refusal struct {
	Tried []RegionAttempt `json:"tried"`
}

func (r *Refusal) Error() string { return "topology: " + r.Message() }

// Is matches ErrNoAllowedCapacity.
func (r *Refusal) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == CodeNoAllowedCapacity
}

// Message says, for people, which regions were tried and why none could take the join.
func (r *Refusal) Message() string {
	if len(r.Tried) == 0 {
		return "the meeting allows no region, so no node may carry it"
	}
	var b strings.Builder
	b.WriteString("no region this meeting allows can take the join, and regions it does not allow are never used: ")
	for i, t := range r.Tried {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(t.Region + ": " + t.describe())
	}
	return b.String()
}

func (t RegionAttempt) describe() string {
	switch t.Reason {
	case ReasonNoNodes:
		return "no node is running"
	case ReasonAllDown:
		return allNodes(t.Nodes) + " down"
	case ReasonAllDraining:
		return allNodes(t.Nodes) + " draining"
	case ReasonAllFull:
		return allNodes(t.Nodes) + " full"
	case ReasonConfigMismatch:
		return allNodes(t.Nodes) + " with another region list"
	case ReasonUnknownRegion:
		return "not a region of this deployment"
	case ReasonCarrierFull:
		return "the node carrying the meeting is full"
	case ReasonPartnerRegion:
		return "run by a partner for its own customers' meetings only"
	}
	return fmt.Sprintf("none of %d nodes can take it (%d down, %d with another region list, %d draining, %d full)",
		t.Nodes, t.Down, t.Mismatch, t.Draining, t.Full)
}

func allNodes(n int) string {
	if n == 1 {
		return "its only node"
	}
	return fmt.Sprintf("all %d nodes", n)
}

// nodeState is a node's fitness to take a join, in the order it is checked: a silent
// node's other fields are stale, and one with another region list may mean anything by
// them.
type nodeState int

const (
	nodeOK nodeState = iota
	nodeDown
	nodeMismatch
	nodeDraining
	nodeFull
)

// Up reports whether the node counts as up at now: heard from less than downAfter ago
// (DefaultDownAfter when zero). A Seen as far in the future is a clock gone wrong, not a
// live node.
func (n NodeInfo) Up(now time.Time, downAfter time.Duration) bool {
	if downAfter <= 0 {
		downAfter = DefaultDownAfter
	}
	return up(n.Seen, now, downAfter)
}

func up(seen, now time.Time, downAfter time.Duration) bool {
	age := now.Sub(seen)
	return !seen.IsZero() && age < downAfter && age > -downAfter
}

func classify(n *NodeInfo, p *PlacementInput, downAfter time.Duration) nodeState {
	switch {
	case !up(n.Seen, p.Now, downAfter):
		return nodeDown
	case n.Fingerprint != p.Fingerprint || p.Fingerprint == "":
		return nodeMismatch
	case n.Draining:
		return nodeDraining
	case n.Load >= n.Capacity:
		return nodeFull
	}
	return nodeOK
}

// lessLoaded orders nodes by load relative to capacity, then by id.
func lessLoaded(a, b *NodeInfo) bool {
	la, lb := int64(a.Load)*int64(b.Capacity), int64(b.Load)*int64(a.Capacity)
	if la != lb {
		return la < lb
	}
	return a.ID < b.ID
}

type regionState struct {
	id       string
	dist     float64
	best     int // index in Nodes of the least loaded fit node; -1 for none
	nodes    int
	down     int
	mismatch int
	draining int
	full     int
}

// Place picks the node for a join. Later joins go to the node carrying the meeting while it
// is up, of the deployment's region list and in the allowed set (draining or not: a
// draining node keeps its live meetings). A first join, or one whose carrier is down, goes
// to the allowed region nearest the participant that has a node up, of the deployment's
// region list, not draining and below capacity; there, to the least loaded such node. Ties
// go to the lower region id and node id.
//
// It never returns a node outside the allowed set, nor one of a partner's region for a
// meeting whose account is not that partner's. When no allowed node can take the join it
// returns a *Refusal; an empty allowed set, or one naming a region the deployment does not
// have or a partner's region the meeting may not use, is refused too (the allowed set is
// wrong, and a wrong set fails closed). Other errors are invalid input.
func Place(p PlacementInput) (Placement, error) {
	if p.Now.IsZero() {
		return Placement{}, &Error{Code: CodeInvalidInput, Message: "placement needs the time now"}
	}
	downAfter := p.DownAfter
	if downAfter <= 0 {
		downAfter = DefaultDownAfter
	}
	if p.Allowed.Len() == 0 {
		return Placement{}, &Refusal{}
	}
	var unknown []RegionAttempt
	for _, id := range p.Allowed.ids {
		if r, ok := p.Deployment.Lookup(id); !ok {
			unknown = append(unknown, RegionAttempt{Region: id, Reason: ReasonUnknownRegion})
		} else if !r.Serves(p.Channel) {
			unknown = append(unknown, RegionAttempt{Region: id, Reason: ReasonPartnerRegion})
		}
	}
	if unknown != nil {
		return Placement{}, &Refusal{Tried: unknown}
	}
	from, err := resolveOrigin(&p)
	if err != nil {
		return Placement{}, err
	}

	failover := false
	if p.Carrier != "" {
		if i := slices.IndexFunc(p.Nodes, func(n NodeInfo) bool { return n.ID == p.Carrier }); i >= 0 && p.Allowed.Contains(p.Nodes[i].Region) {
			c := &p.Nodes[i]
			// Draining or not: a draining node keeps its live meetings.
			if st := classify(c, &p, downAfter); st != nodeDown && st != nodeMismatch {
				if c.Load >= c.Capacity {
					// One node carries a live meeting; a join elsewhere would split it.
					return Placement{}, &Refusal{Tried: []RegionAttempt{{Region: c.Region, Reason: ReasonCarrierFull, Nodes: 1, Full: 1}}}
				}
				return Placement{Node: *c, Sticky: true}, nil
			}
		}
		failover = true
	}

	// Regions on the stack for any deployment of a usual size: placement is on the join path.
	var buf [16]regionState
	states := buf[:0]
	for _, id := range p.Allowed.ids {
		r, _ := p.Deployment.Lookup(id)
		states = append(states, regionState{id: id, dist: from.distanceTo(&p.Deployment, r), best: -1})
	}
	for i := range p.Nodes {
		n := &p.Nodes[i]
		s := findRegion(states, n.Region)
		if s == nil {
			continue
		}
		s.nodes++
		switch classify(n, &p, downAfter) {
		case nodeDown:
			s.down++
		case nodeMismatch:
			s.mismatch++
		case nodeDraining:
			s.draining++
		case nodeFull:
			s.full++
		case nodeOK:
			if s.best < 0 || lessLoaded(n, &p.Nodes[s.best]) {
				s.best = i
			}
		}
	}
	chosen := -1
	for j := range states {
		// states are in id order, so a strict comparison leaves a tie to the lower id.
		if states[j].best >= 0 && (chosen < 0 || states[j].dist < states[chosen].dist) {
			chosen = j
		}
	}
	if chosen >= 0 {
		return Placement{Node: p.Nodes[states[chosen].best], Failover: failover}, nil
	}
	return Placement{}, refusal(states)
}

// findRegion returns the state of region id in states, which are sorted by id, or nil.
func findRegion(states []regionState, id string) *regionState {
	lo, hi := 0, len(states)
	for lo < hi {
		if m := int(uint(lo+hi) >> 1); states[m].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(states) && states[lo].id == id {
		return &states[lo]
	}
	return nil
}

func refusal(states []regionState) *Refusal {
	slices.SortStableFunc(states, func(a, b regionState) int { return cmp.Compare(a.dist, b.dist) })
	tried := make([]RegionAttempt, len(states))
	for i, s := range states {
		t := RegionAttempt{Region: s.id, Nodes: s.nodes, Down: s.down, Mismatch: s.mismatch, Draining: s.draining, Full: s.full}
		switch s.nodes {
		case 0:
			t.Reason = ReasonNoNodes
		case s.down:
			t.Reason = ReasonAllDown
		case s.mismatch:
			t.Reason = ReasonConfigMismatch
		case s.draining:
			t.Reason = ReasonAllDraining
		case s.full:
			t.Reason = ReasonAllFull
		default:
			t.Reason = ReasonUnavailable
		}
		tried[i] = t
	}
	return &Refusal{Tried: tried}
}

// origin is a participant's resolved position.
type origin struct {
	loc          *LatLng
	jurisdiction string
}

func resolveOrigin(p *PlacementInput) (origin, error) {
	f := p.From
	switch {
	case f.Location != nil:
		if !f.Location.valid() {
			return origin{}, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf("participant location %v, %v is not a position", f.Location.Lat, f.Location.Lng)}
		}
		return origin{loc: f.Location}, nil
	case f.Jurisdiction != "":
		if !ValidJurisdiction(f.Jurisdiction) {
			return origin{}, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf("participant jurisdiction %q: want 2 or 3 upper-case letters", f.Jurisdiction)}
		}
		return origin{jurisdiction: f.Jurisdiction}, nil
	case f.Region != "":
		r, ok := p.Deployment.Lookup(f.Region)
		if !ok {
			return origin{}, unknownRegion("entry region", f.Region)
		}
		return origin{loc: &r.Location}, nil
	}
	return origin{}, nil
}

// distanceTo is how far r is from the participant, in km: from the location, or from the
// nearest region of the jurisdiction (0 for its own regions); 0 when nothing is known.
func (o origin) distanceTo(dep *Deployment, r Region) float64 {
	if o.loc != nil {
		return distanceKm(*o.loc, r.Location)
	}
	if o.jurisdiction == "" {
		return 0
	}
	d, found := math.Inf(1), false
	for _, j := range dep.Regions {
		if j.Jurisdiction == o.jurisdiction {
			d, found = min(d, distanceKm(j.Location, r.Location)), true
		}
	}
	if !found {
		return 0 // a jurisdiction without regions says nothing of which is nearer
	}
	return d
}

// valid reports whether l is a position on the globe (NaN is not).
func (l LatLng) valid() bool {
	return l.Lat >= -90 && l.Lat <= 90 && l.Lng >= -180 && l.Lng <= 180
}

// earthRadiusKm is the mean radius of the Earth.
const earthRadiusKm = 6371.0088

// distanceKm is the great-circle distance between a and b (haversine).
func distanceKm(a, b LatLng) float64 {
	const rad = math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLng := (b.Lng - a.Lng) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(min(h, 1)))
}
