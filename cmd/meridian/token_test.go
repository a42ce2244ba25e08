package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
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

// `meridian region-key` prints the public key of the region key that `meridian token`
// signs with: the public_key the region list gives the region.
func TestRegionKeyCommand(t *testing.T) {
	dir := t.TempDir()
	run := func(cmd *cobra.Command, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out.String())
	}
	pub := run(regionKeyCmd(), "--data", dir, "--region", "eu-central")
	if again := run(regionKeyCmd(), "--data", dir, "--region", "eu-central"); again != pub {
		t.Fatalf("the public key changed: %s, then %s", pub, again)
	}
	tok := run(tokenCmd(), "--data", dir, "--region", "eu-central", "--room", "demo", "--identity", "alice")
	listed := topology.Region{ID: "eu-central", PublicKey: pub}
	key, ok, err := listed.Ed25519Key()
	if err != nil || !ok {
		t.Fatalf("printed key %q: %v", pub, err)
	}
	other, err := token.GenerateKey("us-west")
	if err != nil {
		t.Fatal(err)
	}
	node := token.NewIssuer(other, nil).Trusting(token.Keys{"eu-central": key}, homedIn("eu-central"))
	if c, err := node.Verify(t.Context(), tok); err != nil || c.Home != "eu-central" {
		t.Fatalf("token of eu-central checked with the printed key: %+v, %v", c, err)
	}
}

type homedIn string

func (h homedIn) HomeOf(context.Context, string) (string, error) { return string(h), nil }
