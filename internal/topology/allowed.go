package topology

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// AllowedSet is the set of regions that may carry a meeting: sorted, without duplicates,
// every id of region-id shape. A meeting takes its host account's set when it starts and
// keeps it for its life. The zero value is the empty set, which Place refuses (fail
// closed). It encodes in JSON as a sorted array of ids.
type AllowedSet struct {
	ids []string
}

// NewAllowedSet returns the set of these region ids. It checks their shape only; Check
// tests them against a deployment.
func NewAllowedSet(ids ...string) (AllowedSet, error) {
	s := slices.Clone(ids)
	for _, id := range s {
		if !ValidRegionID(id) {
			return AllowedSet{}, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf("allowed regions: %q is not a region id", id)}
		}
	}
	slices.Sort(s)
	return AllowedSet{ids: slices.Compact(s)}, nil
}

// ParseAllowedSet reads a comma-separated list of region ids, as String writes it.
func ParseAllowedSet(s string) (AllowedSet, error) {
	if s == "" {
		return AllowedSet{}, nil
	}
	return NewAllowedSet(strings.Split(s, ",")...)
}

// Contains reports whether region id is in the set.
func (s AllowedSet) Contains(id string) bool {
	_, ok := slices.BinarySearch(s.ids, id)
	return ok
}

// Len is the number of regions in the set.
func (s AllowedSet) Len() int { return len(s.ids) }

// IDs returns the region ids in order; the caller may keep or change the slice.
func (s AllowedSet) IDs() []string { return slices.Clone(s.ids) }

// String is the ids joined by commas, in order: "eu-central,us-west".
func (s AllowedSet) String() string { return strings.Join(s.ids, ",") }

// Equal reports whether two sets hold the same regions.
func (s AllowedSet) Equal(o AllowedSet) bool { return slices.Equal(s.ids, o.ids) }

// MarshalJSON writes the ids as a sorted array ([] for the empty set).
func (s AllowedSet) MarshalJSON() ([]byte, error) {
	if s.ids == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(s.ids)
}

// UnmarshalJSON reads an array of region ids, refusing any of the wrong shape.
func (s *AllowedSet) UnmarshalJSON(b []byte) error {
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		return &Error{Code: CodeInvalidInput, Message: "allowed regions: want an array of region ids"}
	}
	set, err := NewAllowedSet(ids...)
	if err != nil {
		return err
	}
	*s = set
	return nil
}

// Check reports whether the set can be a meeting's under this deployment with this home
// region: every region exists and the home region is in it.
func (s AllowedSet) Check(dep Deployment, home string) error {
	if _, ok := dep.Lookup(home); !ok {
		return unknownRegion("home region", home)
	}
	for _, id := range s.ids {
		if _, ok := dep.Lookup(id); !ok {
			return unknownRegion("allowed region", id)
		}
	}
	if !s.Contains(home) {
		return &Error{Code: CodeHomeRequired, Message: fmt.Sprintf("the home region %s is always allowed and cannot be turned off", home)}
	}
	return nil
}

func unknownRegion(what, id string) *Error {
	return &Error{Code: CodeUnknownRegion, Message: fmt.Sprintf("%s %q is not a region of this deployment", what, id)}
}

// EffectiveAllowed decides the regions the meetings of an account of this sales channel
// may use, from the regions it asks for. An empty request means the home region alone. A
// region run by a partner other than the channel (every partner region, for a direct
// account) is partner_region, and so is a home region of that kind. A plan without region
// selection is locked to its home region: asking for any other is plan_locked (pass nil to
// compute a downgraded account's set). A region that is opt-in and of another jurisdiction
// than the home region needs optedIn[id], an admin's decision; the home region itself
// needs nothing.
func EffectiveAllowed(dep Deployment, home, channel string, requested []string, planHasRegionSelection bool, optedIn map[string]bool) (AllowedSet, error) {
	homeRegion, ok := dep.Lookup(home)
	if !ok {
		return AllowedSet{}, unknownRegion("home region", home)
	}
	if !homeRegion.Serves(channel) {
		return AllowedSet{}, partnerRegion(homeRegion)
	}
	if len(requested) == 0 {
		return AllowedSet{ids: []string{home}}, nil
	}
	set, err := NewAllowedSet(requested...)
	if err != nil {
		return AllowedSet{}, err
	}
	if err := set.Check(dep, home); err != nil {
		return AllowedSet{}, err
	}
	for _, id := range set.ids {
		if r, _ := dep.Lookup(id); !r.Serves(channel) {
			return AllowedSet{}, partnerRegion(r)
		}
	}
	if !planHasRegionSelection && set.Len() > 1 {
		return AllowedSet{}, &Error{Code: CodePlanLocked, Message: fmt.Sprintf(
			"the account's plan keeps its meetings in its home region %s; choosing regions needs a plan with region selection", home)}
	}
	for _, id := range set.ids {
		r, _ := dep.Lookup(id)
		if NeedsOptIn(r, homeRegion) && !optedIn[id] {
			return AllowedSet{}, &Error{Code: CodeOptInRequired, Message: fmt.Sprintf(
				"%s (%s) is an opt-in region outside the home region's jurisdiction %s; an admin must turn it on first",
				id, r.Jurisdiction, homeRegion.Jurisdiction)}
		}
	}
	return set, nil
}

func partnerRegion(r Region) *Error {
	return &Error{Code: CodePartnerRegion, Message: fmt.Sprintf(
		"%s is run by a partner and carries only the meetings of that partner's customers", r.ID)}
}

// DefaultAllowed is the set of an account that has never chosen its regions: its home
// region and, when the account is a partner's customer on a plan with region selection,
// the partner's other regions (those needing no opt-in, or opted in). A partner's
// customers thus stay on the partner's data centers until their settings allow more; the
// operator's own regions are added only by choosing them.
func DefaultAllowed(dep Deployment, home, channel string, planHasRegionSelection bool, optedIn map[string]bool) (AllowedSet, error) {
	homeRegion, ok := dep.Lookup(home)
	if !ok {
		return AllowedSet{}, unknownRegion("home region", home)
	}
	ids := []string{home}
	if planHasRegionSelection && channel != "" {
		for _, r := range dep.Regions {
			if r.Partner == channel && (!NeedsOptIn(r, homeRegion) || optedIn[r.ID]) {
				ids = append(ids, r.ID)
			}
		}
	}
	return EffectiveAllowed(dep, home, channel, ids, planHasRegionSelection, optedIn)
}

// NeedsOptIn reports whether r carries meetings of an account homed in home only after an
// admin turns it on.
func NeedsOptIn(r, home Region) bool {
	return r.ID != home.ID && r.OptIn && r.Jurisdiction != home.Jurisdiction
}

// openTo reports whether a user signing up in jurisdiction j may choose r as home.
func openTo(r Region, j string) bool { return !r.OptIn || r.Jurisdiction == j }

// HomeChoices returns the regions a user signing up in jurisdiction j may choose as home
// region through the operator (the public sign-up, whose accounts are direct): every
// region of the operator's that is of j or not opt-in, sorted by id. An empty or unknown
// jurisdiction gets the regions that are not opt-in. No partner's region is among them.
func HomeChoices(dep Deployment, j string) []Region { return HomeChoicesFor(dep, "", j) }

// HomeChoicesFor is HomeChoices for an account of a sales channel: a partner's customer
// may also be homed in the partner's regions (those of j or not opt-in).
func HomeChoicesFor(dep Deployment, channel, j string) []Region {
	var out []Region
	for _, r := range dep.Regions {
		if r.Serves(channel) && openTo(r, j) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Region) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DefaultHome proposes the home region for a sign-up through the operator (a direct
// account) from jurisdiction j (empty when not known), located at loc when known: the
// region of j, the nearest of several; else the nearest region open to j; without a
// location, the first by id. It is always one of HomeChoices. When no region is open to j
// (all are opt-in and of other jurisdictions) it refuses with no_home_region rather than
// keep data at rest where the user did not choose.
func DefaultHome(dep Deployment, j string, loc *LatLng) (Region, error) {
	return DefaultHomeFor(dep, "", j, loc)
}

// DefaultHomeFor is DefaultHome for an account of a sales channel, for whoever provisions
// a partner's customer: the partner's own regions come first (of j, the nearest of
// several; else the nearest open to j), then the operator's as DefaultHome chooses. It is
// always one of HomeChoicesFor.
func DefaultHomeFor(dep Deployment, channel, j string, loc *LatLng) (Region, error) {
	if j != "" && !ValidJurisdiction(j) {
		return Region{}, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf("jurisdiction %q: want 2 or 3 upper-case letters", j)}
	}
	if loc != nil && !loc.valid() {
		return Region{}, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf("location %v, %v is not a position", loc.Lat, loc.Lng)}
	}
	pick := func(ok func(Region) bool) (Region, bool) {
		var best Region
		var bestD float64
		found := false
		for _, r := range dep.Regions {
			if !ok(r) {
				continue
			}
			var d float64
			if loc != nil {
				d = distanceKm(*loc, r.Location)
			}
			if !found || d < bestD || (d == bestD && r.ID < best.ID) {
				best, bestD, found = r, d, true
			}
		}
		return best, found
	}
	// The partner's regions first, then the operator's (Partner ""). A direct channel
	// names no region's partner, so its first round finds nothing.
	for _, runBy := range []string{channel, ""} {
		if j != "" {
			if r, ok := pick(func(r Region) bool { return r.Partner == runBy && r.Jurisdiction == j }); ok {
				return r, nil
			}
		}
		if r, ok := pick(func(r Region) bool { return r.Partner == runBy && openTo(r, j) }); ok {
			return r, nil
		}
	}
	return Region{}, &Error{Code: CodeNoHomeRegion, Message: fmt.Sprintf("no region of this deployment is open to sign-ups from %s", j)}
}
