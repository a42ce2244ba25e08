package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultIsOneStandaloneNode(t *testing.T) {
	c := Default()
	if c.Capacity != DefaultCapacity || c.DrainTimeout != DefaultDrainTimeout || !c.Bus.Standalone() || c.Bus.SecretFile != "" {
		t.Fatalf("default %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if s, err := c.BusSecret(); err != nil || s != "" {
		t.Fatalf("secret %q %v", s, err)
	}
}

func TestLoadBusSettings(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "regions.yaml", twoRegions)
	writeFile(t, dir, "bus.secret", "0123456789abcdef0123\n")
	path := writeFile(t, dir, "m.yaml", `region: us-west
regions_file: regions.yaml
capacity: 250
drain_timeout: 2m
bus:
  cluster: {listen: "10.0.0.1:6222", routes: ["nats://10.0.0.2:6222"]}
  gateways:
    listen: "10.0.0.1:7222"
    peers: {cn-north: ["nats://10.1.0.1:7222"]}
  secret_file: bus.secret
  tls: {cert_file: tls/node.pem, key_file: tls/node.key, ca_file: /etc/meridian/ca.pem}
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Capacity != 250 || c.DrainTimeout.String() != "2m0s" || c.Bus.Standalone() ||
		c.Bus.Gateways.Peers["cn-north"][0] != "nats://10.1.0.1:7222" || c.Bus.SecretFile != filepath.Join(dir, "bus.secret") {
		t.Fatalf("config %+v", c)
	}
	if tls := c.Bus.TLS; tls.CertFile != filepath.Join(dir, "tls/node.pem") || tls.KeyFile != filepath.Join(dir, "tls/node.key") || tls.CAFile != "/etc/meridian/ca.pem" {
		t.Fatalf("tls files %+v: want relative paths from the config's directory", tls)
	}
	if s, err := c.BusSecret(); err != nil || s != "0123456789abcdef0123" {
		t.Fatalf("secret %q %v", s, err)
	}
}

func TestBadClusterSettings(t *testing.T) {
	dir := t.TempDir()
	short := writeFile(t, dir, "short.secret", "tiny")
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"capacity zero", func(c *Config) { c.Capacity = 0 }, "capacity 0"},
		{"capacity too big", func(c *Config) { c.Capacity = 2_000_000 }, "capacity 2000000"},
		{"negative drain", func(c *Config) { c.DrainTimeout = -1 }, "drain_timeout"},
		{"cluster without secret", func(c *Config) { c.Bus.Cluster.Listen = "127.0.0.1:6222" }, "secret_file"},
		{"routes without cluster", func(c *Config) { c.Bus.Cluster.Routes = []string{"nats://127.0.0.1:6222"} }, "need cluster listen"},
		{"peers without gateways", func(c *Config) { c.Bus.Gateways.Peers = map[string][]string{"local": {"nats://x:1"}} }, "need gateways listen"},
		{"bad listen", func(c *Config) { c.Bus.Listen = "nowhere" }, "bus listen"},
		{"route not nats", func(c *Config) {
			c.Bus.Cluster.Listen, c.Bus.SecretFile = "127.0.0.1:6222", short
			c.Bus.Cluster.Routes = []string{"http://127.0.0.1:6222"}
		}, "want nats://host:port"},
		{"peer of unknown region", func(c *Config) {
			c.Bus.Cluster.Listen, c.Bus.Gateways.Listen, c.Bus.SecretFile = "127.0.0.1:6222", "127.0.0.1:7222", short
			c.Bus.Gateways.Peers = map[string][]string{"mars-1": {"nats://127.0.0.1:7223"}}
		}, `"mars-1" is not a region`},
		{"external with listen", func(c *Config) { c.Bus.ExternalURL, c.Bus.Listen = "nats://nats:4222", "127.0.0.1:4222" }, "external_url"},
		{"external not a url", func(c *Config) { c.Bus.ExternalURL = "::" }, "external_url"},
		{"tls without its key", func(c *Config) { c.Bus.TLS = BusTLS{CertFile: "n.pem", CAFile: "ca.pem"} }, "go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.set(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
	c := Default()
	c.Bus.SecretFile = short
	if _, err := c.BusSecret(); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Fatalf("short secret: %v", err)
	}
}
