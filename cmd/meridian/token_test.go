package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/token"
)

// `meridian token` mints a token the server (same data dir) accepts, with the grants asked.
func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	cmd := tokenCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--data", dir, "--room", "demo", "--identity", "alice", "--publish", "--ttl", "10m"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	key, err := token.ReadRegionKey(filepath.Join(dir, "region-local.key"), "local")
	if err != nil {
		t.Fatal(err)
	}
	c, err := token.NewIssuer(key, nil).Verify(t.Context(), strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Room != "demo" || c.Identity != "alice" || !c.Publish || c.Subscribe {
		t.Fatalf("claims = %+v", c)
	}
}
