package topology

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func TestAllowedSet(t *testing.T) {
	s, err := NewAllowedSet("us-west", "eu-central", "us-west")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.IDs(); !slices.Equal(got, []string{"eu-central", "us-west"}) {
		t.Errorf("IDs = %v; want sorted without duplicates", got)
	}
	if !s.Contains("us-west") || s.Contains("cn-north") || s.Len() != 2 || s.String() != "eu-central,us-west" {
		t.Errorf("got %v", s)
	}
	if p, err := ParseAllowedSet(s.String()); err != nil || !p.Equal(s) {
		t.Errorf("ParseAllowedSet(String) = %v, %v", p, err)
	}
	b, err := json.Marshal(s)
	if err != nil || string(b) != `["eu-central","us-west"]` {
		t.Errorf("JSON %s, %v", b, err)
	}
	var back AllowedSet
	if err := json.Unmarshal([]byte(`["us-west","eu-central","us-west"]`), &back); err != nil || !back.Equal(s) {
		t.Errorf("from JSON: %v, %v", back, err)
	}
	if b, _ := json.Marshal(AllowedSet{}); string(b) != "[]" {
		t.Errorf("empty set in JSON: %s", b)
	}
	for _, bad := range []string{`["US"]`, `"us-west"`, `[1]`} {
		if err := json.Unmarshal([]byte(bad), &back); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v; want invalid input", bad, err)
		}
	}
	if _, err := ParseAllowedSet("us-west,,eu-central"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("empty id: %v", err)
	}
	ids := s.IDs()
	ids[0] = "changed"
	if s.Contains("changed") {
		t.Error("IDs shares the set's storage")
	}
}

func TestEffectiveAllowed(t *testing.T) {
	dep := testDeployment() // us-west, us-east (US), eu-central (EU), cn-north (CN, opt-in)
	cases := []struct {
		name      string
		home      string
		requested []string
		plan      bool
		optedIn   map[string]bool
		want      []string
		code      string
	}{
		{name: "nothing asked: home alone", home: "us-west", plan: true, want: []string{"us-west"}},
		{name: "free plan, nothing asked", home: "eu-central", want: []string{"eu-central"}},
		{name: "free plan asking for home alone", home: "eu-central", requested: []string{"eu-central"}, want: []string{"eu-central"}},
		{name: "free plan is locked to home", home: "us-west", requested: []string{"us-west", "us-east"}, code: CodePlanLocked},
		{name: "paid plan chooses", home: "us-west", requested: []string{"eu-central", "us-west", "us-east"}, plan: true,
			want: []string{"eu-central", "us-east", "us-west"}},
		{name: "home cannot be turned off", home: "us-west", requested: []string{"us-east"}, plan: true, code: CodeHomeRequired},
		{name: "unknown region", home: "us-west", requested: []string{"us-west", "ap-south"}, plan: true, code: CodeUnknownRegion},
		{name: "malformed region", home: "us-west", requested: []string{"us-west", "AP"}, plan: true, code: CodeInvalidInput},
		{name: "unknown home", home: "ap-south", plan: true, code: CodeUnknownRegion},
		{name: "opt-in region not turned on", home: "us-west", requested: []string{"us-west", "cn-north"}, plan: true,
			optedIn: map[string]bool{"eu-central": true}, code: CodeOptInRequired},
		{name: "opt-in region turned on by an admin", home: "us-west", requested: []string{"us-west", "cn-north"}, plan: true,
			optedIn: map[string]bool{"cn-north": true}, want: []string{"cn-north", "us-west"}},
		{name: "opt-in region in the home jurisdiction needs nothing", home: "cn-north", requested: []string{"cn-north"},
			want: []string{"cn-north"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := EffectiveAllowed(dep, c.home, "direct", c.requested, c.plan, c.optedIn)
			if c.code != "" {
				if code, _, _ := CodeOf(err); code != c.code {
					t.Fatalf("got %v, %v; want %s", got, err, c.code)
				}
				return
			}
			if err != nil || !slices.Equal(got.IDs(), c.want) {
				t.Fatalf("got %v, %v; want %v", got, err, c.want)
			}
			if got.Check(dep, c.home) != nil {
				t.Errorf("the result fails Check: %v", got.Check(dep, c.home))
			}
		})
	}
}

func TestEffectiveAllowedOptInSameJurisdiction(t *testing.T) {
	dep := testDeployment()
	dep.Regions = append(dep.Regions, Region{ID: "cn-east", Jurisdiction: "CN", Name: "CN East", Location: LatLng{31.2, 121.5}, OptIn: true})
	got, err := EffectiveAllowed(dep, "cn-north", "direct", []string{"cn-north", "cn-east"}, true, nil)
	if err != nil || got.String() != "cn-east,cn-north" {
		t.Fatalf("an opt-in region of the home's own jurisdiction: %v, %v", got, err)
	}
}

func TestDefaultHome(t *testing.T) {
	dep := testDeployment()
	cases := []struct {
		name string
		j    string
		loc  *LatLng
		want string
		code string
	}{
		{name: "the jurisdiction's region", j: "EU", loc: beijing, want: "eu-central"},
		{name: "nearest of the jurisdiction's regions", j: "US", loc: oregon, want: "us-west"},
		{name: "several regions, no location: first by id", j: "US", want: "us-east"},
		{name: "an opt-in region is its own jurisdiction's home", j: "CN", want: "cn-north"},
		{name: "no region of the jurisdiction: nearest open one", j: "JP", loc: &LatLng{35.7, 139.7}, want: "us-west"},
		{name: "nearest open one, never an opt-in region", j: "KR", loc: beijing, want: "eu-central"},
		{name: "unknown jurisdiction and location: first open one by id", want: "eu-central"},
		{name: "malformed jurisdiction", j: "jp", code: CodeInvalidInput},
		{name: "location off the globe", j: "US", loc: &LatLng{0, 200}, code: CodeInvalidInput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DefaultHome(dep, c.j, c.loc)
			if c.code != "" {
				if code, _, _ := CodeOf(err); code != c.code {
					t.Fatalf("got %v, %v; want %s", got.ID, err, c.code)
				}
				return
			}
			if err != nil || got.ID != c.want {
				t.Fatalf("got %s, %v; want %s", got.ID, err, c.want)
			}
			if !slices.ContainsFunc(HomeChoices(dep, c.j), func(r Region) bool { return r.ID == got.ID }) {
				t.Errorf("%s is not among HomeChoices", got.ID)
			}
		})
	}
	onlyOptIn := Deployment{Regions: []Region{{ID: "cn-north", Jurisdiction: "CN", Name: "CN", OptIn: true}}}
	if _, err := DefaultHome(onlyOptIn, "US", nil); !errors.Is(err, ErrNoHomeRegion) {
		t.Errorf("only opt-in regions of another jurisdiction: %v; want no_home_region", err)
	}
	if r, err := DefaultHome(Default(), "US", oregon); err != nil || r.ID != DefaultRegion {
		t.Errorf("the default deployment: %v, %v; want local", r.ID, err)
	}
}

func TestHomeChoices(t *testing.T) {
	dep := testDeployment()
	ids := func(rs []Region) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	if got := ids(HomeChoices(dep, "US")); !slices.Equal(got, []string{"eu-central", "us-east", "us-west"}) {
		t.Errorf("US: %v", got)
	}
	if got := ids(HomeChoices(dep, "CN")); !slices.Equal(got, []string{"cn-north", "eu-central", "us-east", "us-west"}) {
		t.Errorf("CN: %v", got)
	}
	if got := ids(HomeChoices(dep, "")); !slices.Equal(got, []string{"eu-central", "us-east", "us-west"}) {
		t.Errorf("unknown: %v", got)
	}
}
