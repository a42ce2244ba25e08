package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/store"
)

// A node configured with a region list and its own region lists the regions to anyone,
// keeps its accounts in its region, and gives a meeting its account's allowed set, in
// the join token too.
func TestNodeOfARegion(t *testing.T) {
	dir := t.TempDir()
	regionsFile := filepath.Join(dir, "regions.yaml")
	if err := os.WriteFile(regionsFile, []byte(`regions:
  - {id: us-west, jurisdiction: US, name: US West, location: {lat: 45.6, lng: -121.2}}
  - {id: eu-central, jurisdiction: EU, name: EU Central, location: {lat: 50.1, lng: 8.7}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", filepath.Join(dir, "data")
	cfg.Region, cfg.NodeID, cfg.RegionsFile = "us-west", "usw-a", regionsFile
	srv, err := server.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	resp, err := http.Get(srv.URL() + "/api/regions")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var listed struct {
		Regions    []struct{ ID string }
		NodeRegion string `json:"node_region"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&listed); err != nil || resp.StatusCode != http.StatusOK ||
		len(listed.Regions) != 2 || listed.NodeRegion != "us-west" {
		t.Fatalf("GET /api/regions: %s %+v %v", resp.Status, listed, err)
	}

	ctx := t.Context()
	a, u, err := srv.Store.CreateAccountWithOwner(ctx, store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: "ada@example.com", DisplayName: "Ada", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Region != "us-west" {
		t.Fatalf("account homed in %q", a.Region)
	}
	host := account.Principal{Account: a, User: u}
	if _, err := srv.Accounts.SetRegions(ctx, host, account.RegionsInput{Allowed: []string{"us-west", "eu-central"}}); err != nil {
		t.Fatal(err)
	}
	m, err := srv.Meetings.Schedule(ctx, host, meeting.ScheduleInput{})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := srv.Meetings.Start(ctx, host, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := srv.Tokens.Verify(tk.Token)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"eu-central", "us-west"}; !slices.Equal(c.Regions, want) || !slices.Equal(meeting.AllowedRegions(tk.Meeting), want) {
		t.Fatalf("token regions %v, meeting %v; want %v", c.Regions, meeting.AllowedRegions(tk.Meeting), want)
	}
}
