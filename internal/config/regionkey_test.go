package config

import (
	"os"
	"path/filepath"
	"testing"
)

// The region key is in the data directory unless region_key_file names it.
func TestRegionKeyPath(t *testing.T) {
	c := Default()
	if got, want := c.RegionKeyPath("eu-central"), filepath.Join("data", "region-eu-central.key"); got != want {
		t.Fatalf("default region key path %q, want %q", got, want)
	}
	path := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(path, []byte("region_key_file: /etc/meridian/eu.key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RegionKeyPath("eu-central"); got != "/etc/meridian/eu.key" {
		t.Fatalf("region_key_file: path %q", got)
	}
	// A relative path is the config file's neighbour, as regions_file is.
	if err := os.WriteFile(path, []byte("region_key_file: keys/eu.key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = Load(path); err != nil {
		t.Fatal(err)
	}
	if got, want := c.RegionKeyPath("eu-central"), filepath.Join(filepath.Dir(path), "keys", "eu.key"); got != want {
		t.Fatalf("relative region_key_file: path %q, want %q", got, want)
	}
}
