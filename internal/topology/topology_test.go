package topology

import (
	"errors"
	"strings"
	"testing"
)

const threeRegions = `# the deployment's regions
regions:
  - id: us-west
    jurisdiction: US
    name: US West (Oregon)
    location: {lat: 45.6, lng: -121.2}
  - id: eu-central
    jurisdiction: EU
    name: EU Central (Frankfurt)
    location:
      lat: 50.1
      lng: 8.7
  - id: cn-north
    jurisdiction: CN
    name: CN North (Beijing)
    location: {lat: 39.9, lng: 116.4}
    opt_in: true
`

func TestParse(t *testing.T) {
	dep, err := Parse([]byte(threeRegions))
	if err != nil {
		t.Fatal(err)
	}
	want := Region{ID: "cn-north", Jurisdiction: "CN", Name: "CN North (Beijing)", Location: LatLng{39.9, 116.4}, OptIn: true}
	if len(dep.Regions) != 3 || dep.Regions[2] != want {
		t.Fatalf("got %+v", dep.Regions)
	}
	if r, ok := dep.Lookup("eu-central"); !ok || r.Location != (LatLng{50.1, 8.7}) || r.OptIn {
		t.Errorf("Lookup(eu-central) = %+v, %v", r, ok)
	}
	if _, ok := dep.Lookup("ap-south"); ok {
		t.Error("Lookup found a region not in the list")
	}
}

// TestParseRefuses checks that every region list that cannot work is refused with the
// field at fault and its line.
func TestParseRefuses(t *testing.T) {
	region := func(lines ...string) string {
		return "regions:\n  - id: us-west\n    jurisdiction: US\n    name: US West\n    location: {lat: 45.6, lng: -121.2}\n" +
			strings.Join(lines, "\n") + "\n"
	}
	cases := []struct {
		name, yaml string
		want       string // in the error
	}{
		{"empty", "", "empty"},
		{"no regions", "regions: []\n", "regions: no region"},
		{"unknown key", region("    zone: a"), "line 6: field zone not found"},
		{"unknown top-level key", "region: []\n", "line 1: field region not found"},
		{"not a list", "regions: us-west\n", "line 1:"},
		{"missing location", "regions:\n  - id: us-west\n    jurisdiction: US\n    name: US West\n", "line 2: regions[0]: location is missing"},
		{"missing longitude", "regions:\n  - id: us-west\n    jurisdiction: US\n    name: US West\n    location:\n      lat: 4\n", "line 6: regions[0].location: lng is missing"},
		{"latitude off the globe", region("  - id: eu-central", "    jurisdiction: EU", "    name: EU", "    location: {lat: 95, lng: 8}"),
			"line 9: regions[1].location.lat: 95: want degrees in [-90, 90]"},
		{"longitude off the globe", region("  - id: eu-central", "    jurisdiction: EU", "    name: EU", "    location: {lat: 50, lng: -180.5}"),
			"line 9: regions[1].location.lng"},
		{"NaN latitude", region("  - id: eu-central", "    jurisdiction: EU", "    name: EU", "    location: {lat: .nan, lng: 8}"),
			"regions[1].location.lat: NaN"},
		{"duplicate id", region("  - id: us-west", "    jurisdiction: US", "    name: Again", "    location: {lat: 1, lng: 1}"),
			`line 6: regions[1].id: "us-west" appears twice`},
		{"upper-case id", strings.Replace(region(), "us-west", "US-West", 1), `line 2: regions[0].id: "US-West"`},
		{"one-letter id", strings.Replace(region(), "us-west", "u", 1), `regions[0].id: "u"`},
		{"id with a dot", strings.Replace(region(), "us-west", "us.west", 1), `regions[0].id`},
		{"lower-case jurisdiction", strings.Replace(region(), "US\n", "us\n", 1), `line 3: regions[0].jurisdiction: "us"`},
		{"long jurisdiction", strings.Replace(region(), "US\n", "USAX\n", 1), `regions[0].jurisdiction`},
		{"blank name", strings.Replace(region(), "US West", `"  "`, 1), "line 4: regions[0].name: empty"},
		{"control character in name", strings.Replace(region(), "US West", `"US\tWest"`, 1), "control character"},
		{"two documents", region() + "---\nregions: []\n", "more than one YAML document"},
		{"wrong type", strings.Replace(region(), "lat: 45.6", "lat: north", 1), "line 5:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v; want an error containing %q", err, c.want)
			}
			if !errors.Is(err, ErrInvalidInput) {
				t.Errorf("%v does not match ErrInvalidInput", err)
			}
		})
	}
}

func TestParseTooManyRegions(t *testing.T) {
	var b strings.Builder
	b.WriteString("regions:\n")
	for i := range MaxRegions + 1 {
		b.WriteString("  - {id: r" + strings.Repeat("a", i%20) + string(rune('a'+i/20)) + string(rune('a'+i%26)) +
			", jurisdiction: US, name: R, location: {lat: 1, lng: 1}}\n")
	}
	if _, err := Parse([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "at most 64") {
		t.Fatalf("got %v", err)
	}
}

func TestDefault(t *testing.T) {
	dep := Default()
	if err := dep.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(dep.Regions) != 1 || dep.Regions[0].ID != "local" || dep.Regions[0].Jurisdiction != "ZZ" || dep.Regions[0].OptIn {
		t.Fatalf("got %+v", dep.Regions)
	}
}

func TestFingerprint(t *testing.T) {
	dep, err := Parse([]byte(threeRegions))
	if err != nil {
		t.Fatal(err)
	}
	fp := dep.Fingerprint()
	if !validFingerprint(fp) {
		t.Fatalf("fingerprint %q is not 64 lowercase hex digits", fp)
	}
	reordered := Deployment{Regions: []Region{dep.Regions[2], dep.Regions[0], dep.Regions[1]}}
	if reordered.Fingerprint() != fp {
		t.Error("the list's order changed the fingerprint")
	}
	if dep.Fingerprint() != fp {
		t.Error("the fingerprint is not stable")
	}
	changes := map[string]func(*Region){
		"id":           func(r *Region) { r.ID = "us-west-2" },
		"jurisdiction": func(r *Region) { r.Jurisdiction = "CA" },
		"name":         func(r *Region) { r.Name += "!" },
		"lat":          func(r *Region) { r.Location.Lat += 1e-9 },
		"lng":          func(r *Region) { r.Location.Lng -= 1e-9 },
		"opt_in":       func(r *Region) { r.OptIn = !r.OptIn },
	}
	for field, change := range changes {
		d := Deployment{Regions: append([]Region(nil), dep.Regions...)}
		change(&d.Regions[0])
		if d.Fingerprint() == fp {
			t.Errorf("changing %s left the fingerprint as it was", field)
		}
	}
	// Field boundaries are part of the encoding: moving a character from one field to the
	// next changes the hash.
	a := Deployment{Regions: []Region{{ID: "ab", Jurisdiction: "CDE", Name: "x"}}}
	b := Deployment{Regions: []Region{{ID: "abc", Jurisdiction: "DE", Name: "x"}}}
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("fields run into each other")
	}
	zero := Deployment{Regions: []Region{{ID: "aa", Jurisdiction: "ZZ", Name: "x"}}}
	negZero := Deployment{Regions: []Region{{ID: "aa", Jurisdiction: "ZZ", Name: "x", Location: LatLng{Lat: negativeZero()}}}}
	if zero.Fingerprint() != negZero.Fingerprint() {
		t.Error("-0 and 0 are the same latitude")
	}
	if Default().Fingerprint() == fp {
		t.Error("two deployments share a fingerprint")
	}
}

func negativeZero() float64 {
	z := 0.0
	return -z
}
