package server_test

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/server/servertest"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

// euMeeting starts a meeting on eu, of a business account homed there that allows
// eu-central and us-west, records it in the directory as its home region does, and waits
// until every node of d reads it there. It returns the host, the meeting id and the host's
// ticket token (signed by eu-central's key).
func euMeeting(t *testing.T, d *servertest.Deployment, email string) (account.Principal, string, string) {
	t.Helper()
	ctx := t.Context()
	eu := d.Node("eu-central-1")
	a, u, err := eu.Store.CreateAccountWithOwner(ctx, store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: email, DisplayName: "Ada", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	host := account.Principal{Account: a, User: u}
	if _, err := eu.Accounts.SetRegions(ctx, host, account.RegionsInput{Allowed: []string{"eu-central", "us-west"}}); err != nil {
		t.Fatal(err)
	}
	m, err := eu.Meetings.Schedule(ctx, host, meeting.ScheduleInput{})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := eu.Meetings.Start(ctx, host, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := topology.NewAllowedSet(meeting.AllowedRegions(tk.Meeting)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eu.Directory.PutMeeting(ctx, directory.Meeting{ID: m.ID, HomeRegion: "eu-central", Allowed: allowed}); err != nil {
		t.Fatal(err)
	}
	for _, n := range d.Nodes {
		eventually(t, 10*time.Second, n.NodeID()+" to read the meeting in the directory", func() bool {
			e, err := n.Directory.Meeting(ctx, m.ID)
			return err == nil && e.HomeRegion == "eu-central"
		})
	}
	return host, m.ID, tk.Token
}

// Three regions, each with its own key. A meeting homed in EU admits, on an allowed US
// node, the token EU signed, its entry checked by EU, which holds the meeting; a token for
// it minted by another region is refused on every node and every way in, even though that
// region's key signed it; and with EU unreachable the US node refuses rather than guess.
func TestRegionKeysAcrossRegions(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{Regions: []string{"us-west:US", "eu-central:EU", "cn-north:CN"}})
	eu, us, cn := d.Node("eu-central-1"), d.Node("us-west-1"), d.Node("cn-north-1")
	ctx, cancel := testContext(t)
	defer cancel()

	host, id, euToken := euMeeting(t, d, "ada@example.com")
	room := meeting.Room(id)
	if _, err := us.Store.GetMeeting(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the US store has the EU meeting: %v", err)
	}

	// EU's token enters on the US node, by the WebSocket and WHEP.
	c, err := client.Join(ctx, client.Options{URL: us.URL(), Token: euToken, LoopbackOnly: true})
	if err != nil {
		t.Fatalf("EU's token on the US node: %v", err)
	}
	c.Close()
	if status, code := post(t, us.Server, "whep", room, "Bearer "+euToken, offerSDP(t)); status != http.StatusCreated {
		t.Fatalf("WHEP with EU's token on the US node: %d %s", status, code)
	}

	// Tokens minted by US and CN, each correctly signed with its own region's key, for the
	// EU meeting: refused everywhere, the home region's own node included.
	for _, minter := range []*server.Server{us.Server, cn.Server} {
		forged, err := minter.Tokens.Mint(room, host.User.ID, "Ada", token.Grants{Publish: true, Subscribe: true, Host: true}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []*server.Server{us.Server, cn.Server, eu.Server} {
			t.Run(minter.Region()+"-token-on-"+n.Region(), func(t *testing.T) {
				wantRefusedEverywhere(t, ctx, n, room, forged, http.StatusForbidden, "wrong_region_key")
			})
		}
	}

	// The entry check is EU's: once EU ends the meeting, the US node refuses its ticket.
	if _, err := eu.Meetings.End(ctx, host, id); err != nil {
		t.Fatal(err)
	}
	if _, code := wsJoin(t, ctx, us.Server, euToken); code != "ended" {
		t.Fatalf("EU's ended meeting on the US node: %s, want ended", code)
	}

	// EU unreachable: a live EU meeting's ticket is refused on the US node.
	_, id2, euToken2 := euMeeting(t, d, "bo@example.com")
	if err := eu.Close(); err != nil {
		t.Fatal(err)
	}
	wantRefusedEverywhere(t, ctx, us.Server, meeting.Room(id2), euToken2, http.StatusServiceUnavailable, "control_plane_unavailable")
}

// A deployment of several regions lists each region's public key; a node refuses to start
// without them, or with a region key that is not the one the list gives its region.
func TestNodeRefusesToStartWithoutRegionKeys(t *testing.T) {
	dir := t.TempDir()
	other, err := token.GenerateKey("us-west")
	if err != nil {
		t.Fatal(err)
	}
	region := func(id, jur, key string) topology.Region {
		return topology.Region{ID: id, Jurisdiction: jur, Name: id, Location: topology.LatLng{Lat: 1, Lng: 1}, PublicKey: key}
	}
	eu, err := token.GenerateKey("eu-central")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		regions []topology.Region
		want    string
	}{
		{"no keys", []topology.Region{region("us-west", "US", ""), region("eu-central", "EU", "")}, "region us-west has no public_key"},
		{"another region's key missing", []topology.Region{region("eu-central", "EU", ""), region("us-west", "US", other.PublicBase64())}, "region eu-central has no public_key"},
		{"own key not the listed one", []topology.Region{region("us-west", "US", other.PublicBase64()), region("eu-central", "EU", eu.PublicBase64())}, "not the " + other.PublicBase64()},
	} {
		cfg := config.Default()
		cfg.Addr, cfg.DataDir = "127.0.0.1:0", filepath.Join(dir, "data")
		cfg.Region, cfg.Regions = "us-west", c.regions
		srv, err := server.Start(cfg, servertest.Logger(t))
		if err == nil {
			srv.Close()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: start: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// A meeting's room this region's store does not hold is homed where the directory says; with
// the directory unreachable the node refuses the token (fail closed) rather than take it
// as its own, while its own meetings, which its store holds, still need no directory.
func TestUnknownHomeWithoutDirectoryRefuses(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	hostToken, _, room := startMeeting(t, srv, "hal@example.com", `{"topic":"Here"}`)
	elsewhere := mint(t, srv, meeting.Room("0000000000000000000000000a"), "u_1", pubSub)
	wantRefusedEverywhere(t, ctx, srv, meeting.Room("0000000000000000000000000a"), elsewhere, http.StatusForbidden, "not_allowed")

	srv.Bus.Close()
	wantRefusedEverywhere(t, ctx, srv, meeting.Room("0000000000000000000000000a"), elsewhere, http.StatusServiceUnavailable, "control_plane_unavailable")
	if status, code := post(t, srv, "whep", room, "Bearer "+hostToken, offerSDP(t)); status != http.StatusCreated {
		t.Fatalf("this region's own meeting with the bus down: %d %s", status, code)
	}
}
