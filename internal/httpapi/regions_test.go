package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// threeRegions is a deployment of three jurisdictions; cn-north is opt-in.
var threeRegions = topology.Deployment{Regions: []topology.Region{
	{ID: "us-west", Jurisdiction: "US", Name: "US West (Oregon)", Location: topology.LatLng{Lat: 45.6, Lng: -121.2}},
	{ID: "eu-central", Jurisdiction: "EU", Name: "EU Central (Frankfurt)", Location: topology.LatLng{Lat: 50.1, Lng: 8.7}},
	{ID: "cn-north", Jurisdiction: "CN", Name: "CN North (Beijing)", Location: topology.LatLng{Lat: 39.9, Lng: 116.4}, OptIn: true},
}}

// newRegionsAPI serves New's handler with a real account service over a real SQLite
// store, on a node of region self in dep.
func newRegionsAPI(t *testing.T, dep topology.Deployment, self string) *apiFixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: self})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &apiFixture{st: st, mail: &recordingSender{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := account.New(st, f.mail, account.Options{Log: log, Deployment: dep, Region: self})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(New(Deps{Log: log, Accounts: svc, ResetURL: "https://meet.example/reset"}))
	t.Cleanup(f.srv.Close)
	return f
}

type regionsOut struct {
	Regions []struct {
		ID, Name, Jurisdiction string
		OptIn                  bool `json:"opt_in"`
		Location               struct{ Lat, Lng float64 }
		HomeChoice             bool `json:"home_choice"`
	}
	NodeRegion  string `json:"node_region"`
	DefaultHome string `json:"default_home"`
}

func TestRegionsListedToAnyone(t *testing.T) {
	f := newRegionsAPI(t, threeRegions, "eu-central")
	out := decodeAs[regionsOut](t, f.call(t, "GET", "/api/regions", ""), http.StatusOK)
	if len(out.Regions) != 3 || out.NodeRegion != "eu-central" {
		t.Fatalf("regions %+v", out)
	}
	cn := out.Regions[2]
	if cn.ID != "cn-north" || cn.Jurisdiction != "CN" || !cn.OptIn || cn.Name != "CN North (Beijing)" ||
		cn.Location.Lat != 39.9 || cn.Location.Lng != 116.4 || cn.HomeChoice {
		t.Fatalf("cn-north %+v: an opt-in region is no home choice for a sign-up from nowhere", cn)
	}
	if !out.Regions[0].HomeChoice || out.DefaultHome == "" {
		t.Fatalf("regions %+v", out)
	}

	// A sign-up from CN may choose cn-north, and is proposed it.
	out = decodeAs[regionsOut](t, f.call(t, "GET", "/api/regions?jurisdiction=CN", ""), http.StatusOK)
	if !out.Regions[2].HomeChoice || out.DefaultHome != "cn-north" {
		t.Fatalf("from CN: %+v", out)
	}
	if r := f.call(t, "GET", "/api/regions?jurisdiction=china", ""); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
		t.Fatalf("bad jurisdiction: %d %s", r.status, r.body)
	}
}

func TestRegionsDefaultIsLocal(t *testing.T) {
	f := newAPI(t, false)
	out := decodeAs[regionsOut](t, f.call(t, "GET", "/api/regions", ""), http.StatusOK)
	if len(out.Regions) != 1 || out.Regions[0].ID != topology.DefaultRegion || out.NodeRegion != topology.DefaultRegion ||
		out.DefaultHome != topology.DefaultRegion || !out.Regions[0].HomeChoice {
		t.Fatalf("regions %+v", out)
	}
}
