package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/topology"
)

const twoRegions = `regions:
  - id: us-west
    jurisdiction: US
    name: US West (Oregon)
    location: {lat: 45.6, lng: -121.2}
  - id: cn-north
    jurisdiction: CN
    name: CN North (Beijing)
    location: {lat: 39.9, lng: 116.4}
    opt_in: true
`

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultDeploymentIsOneLocalRegion(t *testing.T) {
	c := Default()
	dep, err := c.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	if dep.Fingerprint() != topology.Default().Fingerprint() {
		t.Fatalf("deployment %+v, want topology.Default()", dep)
	}
	if c.Region != topology.DefaultRegion || c.Node() != "local-1" {
		t.Fatalf("region %q node %q", c.Region, c.Node())
	}
}

func TestLoadInlineRegions(t *testing.T) {
	path := writeFile(t, t.TempDir(), "m.yaml", "addr: 127.0.0.1:9999\nregion: cn-north\n"+twoRegions+"log_level: debug\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dep, err := c.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := dep.Lookup("cn-north"); !ok || !r.OptIn || r.Location.Lat != 39.9 || len(dep.Regions) != 2 {
		t.Fatalf("deployment %+v", dep)
	}
	if c.Node() != "cn-north-1" || c.LogLevel != "debug" {
		t.Fatalf("node %q, log level %q", c.Node(), c.LogLevel)
	}
}

func TestLoadRegionsFileRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "etc"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "etc"), "regions.yaml", twoRegions)
	path := writeFile(t, filepath.Join(dir, "etc"), "m.yaml", "region: us-west\nnode_id: usw-a\nregions_file: regions.yaml\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.RegionsFile != filepath.Join(dir, "etc", "regions.yaml") || c.Node() != "usw-a" {
		t.Fatalf("regions file %q node %q", c.RegionsFile, c.Node())
	}
	dep, err := c.Deployment()
	if err != nil || len(dep.Regions) != 2 {
		t.Fatalf("deployment %+v, %v", dep, err)
	}
}

func TestLoadRejectsRegionMistakes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "regions.yaml", twoRegions)
	for name, tc := range map[string]struct{ body, want string }{
		"unknown own region":        {"region: eu-central\n" + twoRegions, `region "eu-central" is not in the region list (us-west, cn-north)`},
		"default region not listed": {twoRegions, `region "local" is not in the region list`},
		"both inline and file":      {"region: us-west\nregions_file: regions.yaml\n" + twoRegions, "not both"},
		"missing file":              {"regions_file: nowhere.yaml\n", "regions_file"},
		"bad node id":               {"node_id: Node_1\n", `node_id "Node_1"`},
		"missing location": {"addr: 127.0.0.1:1\nregion: us-west\nregions:\n  - id: us-west\n    jurisdiction: US\n    name: US West\n",
			"line 4: regions[0]: location is missing"},
		"latitude off the globe": {"region: us-west\n" + strings.Replace(twoRegions, "lat: 39.9", "lat: 95", 1),
			"line 10: regions[1].location.lat: 95: want degrees in [-90, 90]"},
		"duplicate id":       {"region: us-west\n" + strings.Replace(twoRegions, "cn-north", "us-west", 1), `regions[1].id: "us-west" appears twice`},
		"unknown region key": {"region: us-west\n" + strings.Replace(twoRegions, "opt_in", "optin", 1), "optin"},
	} {
		path := writeFile(t, dir, "m.yaml", tc.body)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to say %q", name, err, tc.want)
		}
	}
}

func TestRegionsFileErrorNamesFieldAndLine(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.Region = "us-west"
	c.RegionsFile = writeFile(t, dir, "regions.yaml", strings.Replace(twoRegions, "jurisdiction: CN", "jurisdiction: china", 1))
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `line 7: regions[1].jurisdiction: "china"`) {
		t.Fatalf("error %v", err)
	}
}
