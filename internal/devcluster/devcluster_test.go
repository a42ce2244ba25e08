package devcluster

import (
	"os"
	"strings"
	"testing"
)

func TestParseRegions(t *testing.T) {
	var warned []string
	rs, err := ParseRegions("us-west:US, cn-north:CN,mars-base:MA", func(id string) { warned = append(warned, id) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[0].Name != "US West (Oregon)" || rs[0].Location.Lat != 45.6 || !rs[1].OptIn || rs[1].Jurisdiction != "CN" ||
		rs[2].Name != "mars-base" || rs[2].Location.Lat != 0 || len(warned) != 1 || warned[0] != "mars-base" {
		t.Fatalf("regions %+v, warned %v", rs, warned)
	}
	for in, want := range map[string]string{
		"us-west":               "want id:JURISDICTION",
		"us-west:US,us-west:US": "appears twice",
		"US_WEST:US":            "",
		"us-west:usa1":          "",
	} {
		if _, err := ParseRegions(in, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRegions(%q): %v, want an error with %q", in, err, want)
		}
	}
}

func TestConfigsFormRegionsAndGateways(t *testing.T) {
	rs, err := ParseRegions("us-west:US,eu-central:EU", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := Configs(Spec{Regions: rs, RegionNodes: map[string]int{"us-west": 3}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 4 || cfgs[0].Node() != "us-west-1" || cfgs[3].Node() != "eu-central-1" {
		t.Fatalf("nodes %v %v", cfgs[0].Node(), cfgs[3].Node())
	}
	us, eu := cfgs[0], cfgs[3]
	if len(us.Bus.Cluster.Routes) != 3 || us.Bus.Replicas != 3 || eu.Bus.Replicas != 0 || us.DataDir != cfgs[2].DataDir || us.DataDir == eu.DataDir ||
		len(us.Bus.Gateways.Peers["eu-central"]) != 1 || len(eu.Bus.Gateways.Peers["us-west"]) != 3 || us.Bus.SecretFile == "" {
		t.Fatalf("us-west-1 %+v\neu-central-1 %+v", us.Bus, eu.Bus)
	}
	// Every node's bus is on TLS, with a certificate of its own from the one CA.
	for _, c := range cfgs {
		if tls := c.Bus.TLS; tls.CAFile != us.Bus.TLS.CAFile || tls.CertFile == "" || tls.KeyFile == "" {
			t.Fatalf("%s: bus tls %+v", c.Node(), tls)
		}
		if _, err := os.Stat(c.Bus.TLS.CertFile); err != nil {
			t.Fatalf("%s: %v", c.Node(), err)
		}
	}
	if cfgs[0].Bus.TLS.CertFile == cfgs[1].Bus.TLS.CertFile {
		t.Fatal("two nodes share a certificate")
	}
}
