package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadOverridesDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.yaml")
	os.WriteFile(path, []byte("addr: 127.0.0.1:9999\nmedia:\n  udp_port: 50000\n  initial_bitrate: 300000\n"+
		"http:\n  idle_timeout: 45s\n  uncapped_clients: [10.0.0.0/8]\n"), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.DataDir != "./data" || c.Media.UDPPort != 50000 || c.Media.InitialBitrate != 300_000 {
		t.Fatalf("config = %+v", c)
	}
	if c.HTTP.IdleTimeout != 45*time.Second || c.HTTP.ReadTimeout != 30*time.Second || c.HTTP.MaxConnsPerClient != 64 ||
		len(c.HTTP.UncappedClients) != 1 {
		t.Fatalf("http defaults lost: %+v", c.HTTP)
	}
	if !c.MediaLoopbackOnly() {
		t.Fatal("a loopback listener should restrict media to loopback")
	}
}

func TestLoadRejectsMistakes(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key": "adr: 1.2.3.4:5\n",
		"bad addr":    "addr: nowhere\n",
		"port":        "media:\n  udp_port: 70000\n",
		"old ports":   "media:\n  udp_port_min: 50000\n",
		"public ip":   "media:\n  public_ips: [not-an-ip]\n",
		"log level":   "log_level: loud\n",
		"bitrate low": "media:\n  initial_bitrate: 1000\n",
		"bitrate neg": "media:\n  initial_bitrate: -1\n",
		"idle zero":   "http:\n  idle_timeout: 0s\n",
		"headers":     "http:\n  max_header_bytes: 10\n",
		"conns":       "http:\n  max_conns_per_client: -1\n",
		"uncapped":    "http:\n  uncapped_clients: [10.0.0.1]\n",
		"proxies":     "http:\n  trusted_proxies: [proxy.internal]\n",
		"operator":    "operators: [\"Ops <ops@example.com>\"]\n",
		"policy":      "policy_start: latest\n",
	} {
		path := filepath.Join(t.TempDir(), "m.yaml")
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := Load(path); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOperatorsLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(path, []byte("operators: [ops@example.com, Ana@Example.com]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil || len(cfg.Operators) != 2 || cfg.Operators[1] != "Ana@Example.com" {
		t.Fatalf("operators %v, %v", cfg.Operators, err)
	}
}

// The GeoIP file is taken from the config file's directory, as the other files are; no
// proxy is trusted unless listed.
func TestGeoIPAndTrustedProxiesLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(path, []byte("geoip_file: geo/City.mmdb\nhttp:\n  trusted_proxies: [10.0.0.7/32, \"fd00::/8\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GeoIPFile != filepath.Join(dir, "geo", "City.mmdb") {
		t.Errorf("geoip_file %q", cfg.GeoIPFile)
	}
	ps, err := cfg.HTTP.TrustedProxyPrefixes()
	if err != nil || len(ps) != 2 || ps[0].String() != "10.0.0.7/32" || ps[1].String() != "fd00::/8" {
		t.Errorf("trusted proxies %v, %v", ps, err)
	}
	if d := Default(); d.GeoIPFile != "" || len(d.HTTP.TrustedProxies) != 0 {
		t.Errorf("defaults: geoip %q, trusted proxies %v", d.GeoIPFile, d.HTTP.TrustedProxies)
	}
}
