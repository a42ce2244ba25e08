package httpapi

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/meeting"
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
	f, _ := newRegionsAPIIn(t, t.TempDir(), dep, self)
	return f
}

// newRegionsAPIIn is newRegionsAPI over the SQLite store in dir.
func newRegionsAPIIn(t *testing.T, dir string, dep topology.Deployment, self string) (*apiFixture, string) {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: dir, Region: self})
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
	return f, dir
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

// addUser adds a user of role to account accountID, straight into the SQLite store in
// dir (the API has no way yet to add members), and signs them in.
func (f *apiFixture) addUser(t *testing.T, dir, accountID, email, role string) session {
	t.Helper()
	hash, err := account.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, store.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `INSERT INTO users (id, account_id, region, email, display_name, password_hash, role, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, "u-"+role+"-"+email, accountID, f.st.Region(), email, "Bo", hash, role, 0); err != nil {
		t.Fatal(err)
	}
	return f.signIn(t, email)
}

// onPlan creates an account on plan with its owner, and signs the owner in.
func (f *apiFixture) onPlan(t *testing.T, email string, plan account.Plan) (session, string) {
	t.Helper()
	hash, err := account.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := f.st.CreateAccountWithOwner(t.Context(), store.Account{Type: "business", Name: "Acme", Plan: string(plan)},
		store.User{Email: email, DisplayName: "Ada", PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	return f.signIn(t, email), a.ID
}

func (f *apiFixture) signIn(t *testing.T, email string) session {
	t.Helper()
	r := f.call(t, "POST", "/api/signin", fmt.Sprintf(`{"email":%q,"password":"correct horse battery"}`, email))
	out := decodeAs[struct {
		CSRFToken string `json:"csrf_token"`
	}](t, r, http.StatusOK)
	c := r.cookie(t)
	return session{cookie: c.Name + "=" + c.Value, csrf: out.CSRFToken}
}

type accountRegionsOut struct {
	Home            string
	Allowed         []string
	RegionSelection bool `json:"region_selection"`
	CanChange       bool `json:"can_change"`
	Regions         []struct {
		ID, Jurisdiction, Explanation, Warning string
		Home, Allowed, Locked                  bool
		NeedsOptIn                             bool `json:"needs_opt_in"`
		OptedIn                                bool `json:"opted_in"`
	}
}

func (f *apiFixture) accountRegions(t *testing.T, s session) accountRegionsOut {
	t.Helper()
	return decodeAs[accountRegionsOut](t, f.call(t, "GET", "/api/account/regions", "", s.auth(false)...), http.StatusOK)
}

func TestAccountRegionsOverHTTP(t *testing.T) {
	f, dir := newRegionsAPIIn(t, t.TempDir(), threeRegions, "us-west")
	owner, accountID := f.onPlan(t, "ann@example.com", account.Business)
	got := f.accountRegions(t, owner)
	if got.Home != "us-west" || !slices.Equal(got.Allowed, []string{"us-west"}) || !got.RegionSelection || !got.CanChange || len(got.Regions) != 3 {
		t.Fatalf("regions %+v", got)
	}
	if cn := got.Regions[2]; cn.ID != "cn-north" || !cn.NeedsOptIn || cn.Allowed || cn.Warning == "" || cn.Explanation == "" {
		t.Fatalf("cn-north %+v", cn)
	}

	put := func(s session, body string) reply {
		return f.call(t, "PUT", "/api/account/regions", body, s.auth(true)...)
	}
	if r := put(owner, `{"allowed":["us-west","cn-north"]}`); r.status != http.StatusBadRequest || r.code(t) != "opt_in_required" {
		t.Fatalf("opt-in without acknowledgement: %d %s", r.status, r.body)
	}
	if r := put(owner, `{"allowed":["eu-central"]}`); r.status != http.StatusBadRequest || r.code(t) != "home_required" {
		t.Fatalf("without home: %d %s", r.status, r.body)
	}
	if r := put(owner, `{"allowed":["us-west","mars-1"]}`); r.status != http.StatusBadRequest || r.code(t) != "unknown_region" {
		t.Fatalf("unknown region: %d %s", r.status, r.body)
	}
	if r := put(owner, `{"allowed":["us-west"],"acknowledge_opt_in":true}`); r.status != http.StatusBadRequest {
		t.Fatalf("acknowledge_opt_in not a list: %d %s", r.status, r.body)
	}
	if r := f.call(t, "PUT", "/api/account/regions", `{"allowed":["us-west","eu-central"]}`, owner.auth(false)...); r.status != http.StatusForbidden || r.code(t) != "csrf_failed" {
		t.Fatalf("without CSRF: %d %s", r.status, r.body)
	}
	changed := decodeAs[accountRegionsOut](t, put(owner, `{"allowed":["us-west","cn-north"],"acknowledge_opt_in":["cn-north"]}`), http.StatusOK)
	if !slices.Equal(changed.Allowed, []string{"cn-north", "us-west"}) || !changed.Regions[2].OptedIn {
		t.Fatalf("after the change %+v", changed)
	}

	// A member reads but cannot change; an API key cannot change either.
	member := f.addUser(t, dir, accountID, "bo@example.com", "member")
	if got := f.accountRegions(t, member); got.CanChange || !slices.Equal(got.Allowed, changed.Allowed) {
		t.Fatalf("member sees %+v", got)
	}
	if r := put(member, `{"allowed":["us-west"]}`); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
		t.Fatalf("member change: %d %s", r.status, r.body)
	}
	_, secret := f.createKey(t, owner, "account:read", "keys:read", "keys:write", "meetings:read", "meetings:write")
	if r := f.call(t, "PUT", "/api/account/regions", `{"allowed":["us-west"]}`, "Authorization", "Bearer "+secret); r.status != http.StatusForbidden {
		t.Fatalf("API key change: %d %s", r.status, r.body)
	}
	// An admin may.
	admin := f.addUser(t, dir, accountID, "cy@example.com", "admin")
	if r := put(admin, `{"allowed":["us-west","eu-central","cn-north"]}`); r.status != http.StatusOK {
		t.Fatalf("admin change: %d %s", r.status, r.body)
	}

	// Another account's owner changes only their own account.
	other, _ := f.onPlan(t, "dee@example.com", account.Pro)
	if r := put(other, `{"allowed":["us-west"]}`); r.status != http.StatusOK {
		t.Fatalf("other account: %d %s", r.status, r.body)
	}
	if got := f.accountRegions(t, owner); !slices.Equal(got.Allowed, []string{"cn-north", "eu-central", "us-west"}) {
		t.Fatalf("another account's change reached this one: %v", got.Allowed)
	}

	// A free account is locked to its home region.
	free := f.signUp(t)
	if r := put(free, `{"allowed":["us-west","eu-central"]}`); r.status != http.StatusForbidden || r.code(t) != "plan_locked" {
		t.Fatalf("free account: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/account/regions", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("anonymous read: %d %s", r.status, r.body)
	}
}

func TestSignUpHomeRegionOverHTTP(t *testing.T) {
	f := newRegionsAPI(t, threeRegions, "us-west")
	body := func(email, extra string) string {
		return fmt.Sprintf(`{"account_type":"individual","email":%q,"display_name":"Ada","password":"correct horse battery"%s}`, email, extra)
	}
	r := f.call(t, "POST", "/api/signup", body("eu@example.com", `,"jurisdiction":"EU"`))
	if r.status != http.StatusConflict || r.code(t) != "home_region_elsewhere" {
		t.Fatalf("EU sign-up on a us-west node: %d %s", r.status, r.body)
	}
	r = f.call(t, "POST", "/api/signup", body("eu@example.com", `,"jurisdiction":"EU","home_region":"us-west"`))
	out := decodeAs[struct{ Account struct{ Region string } }](t, r, http.StatusCreated)
	if out.Account.Region != "us-west" {
		t.Fatalf("home %q", out.Account.Region)
	}
	if r := f.call(t, "POST", "/api/signup", body("x@example.com", `,"home_region":"mars-1"`)); r.status != http.StatusBadRequest || r.code(t) != "unknown_region" {
		t.Fatalf("unknown home: %d %s", r.status, r.body)
	}
}

func TestMeetingJSONHasAllowedRegions(t *testing.T) {
	f := newMeetingsAPI(t, meeting.Limits{})
	s := f.signUpAs(t, "ada@example.com")
	m := f.schedule(t, s, `{"topic":"Standup"}`)
	regions := func() string {
		r := f.call(t, "GET", "/api/meetings/"+m.ID, "", s.auth(false)...)
		out := decodeAs[struct {
			AllowedRegions json.RawMessage `json:"allowed_regions"`
		}](t, r, http.StatusOK)
		return string(out.AllowedRegions)
	}
	if got := regions(); got != "[]" {
		t.Fatalf("allowed_regions before it starts: %s", got)
	}
	f.startMeeting(t, s, m.ID)
	if got := regions(); got != `["local"]` {
		t.Fatalf("allowed_regions once live: %s", got)
	}
}

// A region run by a partner is not on the public list (the sign-up page must not offer
// it), cannot be put in a direct account's regions by a crafted request (400
// partner_region), and is shown, named as the partner's, to the partner's customers.
func TestPartnerRegionsOverHTTP(t *testing.T) {
	dep := topology.Deployment{Regions: append(slices.Clone(threeRegions.Regions),
		topology.Region{ID: "cn-lotus", Jurisdiction: "CN", Name: "Lotus Bridge Beijing", Location: topology.LatLng{Lat: 39.9, Lng: 116.3}, Partner: "lotus-bridge"})}
	f := newRegionsAPI(t, dep, "us-west")
	for _, q := range []string{"", "?jurisdiction=CN"} {
		out := decodeAs[regionsOut](t, f.call(t, "GET", "/api/regions"+q, ""), http.StatusOK)
		for _, r := range out.Regions {
			if r.ID == "cn-lotus" {
				t.Fatalf("public list%s %+v: shows the partner's region", q, out)
			}
		}
		if len(out.Regions) != 3 || out.DefaultHome == "cn-lotus" {
			t.Fatalf("public list%s %+v", q, out)
		}
	}
	signUp := `{"account_type":"individual","email":"x@example.com","display_name":"Ada","password":"correct horse battery","home_region":"cn-lotus"}`
	if r := f.call(t, "POST", "/api/signup", signUp); r.status != http.StatusBadRequest || r.code(t) != "partner_region" {
		t.Fatalf("sign-up homed in the partner's region: %d %s", r.status, r.body)
	}

	direct, _ := f.onPlan(t, "ann@example.com", account.Business)
	if got := f.accountRegions(t, direct); len(got.Regions) != 3 {
		t.Fatalf("a direct account sees %+v", got.Regions)
	}
	r := f.call(t, "PUT", "/api/account/regions", `{"allowed":["us-west","cn-lotus"],"acknowledge_opt_in":["cn-lotus"]}`, direct.auth(true)...)
	if r.status != http.StatusBadRequest || r.code(t) != "partner_region" {
		t.Fatalf("crafted request for the partner's region: %d %s", r.status, r.body)
	}
	if got := f.accountRegions(t, direct); !slices.Equal(got.Allowed, []string{"us-west"}) {
		t.Fatalf("allowed %v after the refusal", got.Allowed)
	}

	hash, err := account.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.CreateAccountWithOwner(t.Context(), store.Account{Type: "business", Name: "Lotus customer",
		Plan: string(account.Business), Channel: "lotus-bridge"},
		store.User{Email: "li@lotus.example", DisplayName: "Li", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	customer := f.signIn(t, "li@lotus.example")
	raw := f.call(t, "GET", "/api/account/regions", "", customer.auth(false)...)
	out := decodeAs[struct {
		Allowed []string
		Regions []struct {
			ID, Partner, Explanation string
			PartnerName              string `json:"partner_name"`
		}
	}](t, raw, http.StatusOK)
	if !slices.Equal(out.Allowed, []string{"cn-lotus", "us-west"}) || len(out.Regions) != 4 {
		t.Fatalf("the partner's customer: %s", raw.body)
	}
	if l := out.Regions[3]; l.ID != "cn-lotus" || l.Partner != "lotus-bridge" || l.PartnerName != "lotus-bridge" ||
		!strings.HasPrefix(l.Explanation, "Run by lotus-bridge") {
		t.Fatalf("cn-lotus as its customer sees it: %+v", l)
	}
}
