package account

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// threeRegions is a deployment of three jurisdictions; cn-north is opt-in.
var threeRegions = topology.Deployment{Regions: []topology.Region{
	{ID: "us-west", Jurisdiction: "US", Name: "US West (Oregon)", Location: topology.LatLng{Lat: 45.6, Lng: -121.2}},
	{ID: "eu-central", Jurisdiction: "EU", Name: "EU Central (Frankfurt)", Location: topology.LatLng{Lat: 50.1, Lng: 8.7}},
	{ID: "cn-north", Jurisdiction: "CN", Name: "CN North (Beijing)", Location: topology.LatLng{Lat: 39.9, Lng: 116.4}, OptIn: true},
}}

// newRegionFixture is a Service of a node in us-west of threeRegions, over a real SQLite
// store of that region.
func newRegionFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "us-west"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, mail: &recordingSender{}, clock: &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	f.svc, err = New(st, f.mail, Options{
		Now: f.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deployment: threeRegions, Region: "us-west",
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// onPlan creates an account on plan with its owner, signed in.
func (f *fixture) onPlan(t *testing.T, email string, plan Plan) Principal {
	t.Helper()
	hash, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.CreateAccountWithOwner(t.Context(),
		store.Account{Type: TypeBusiness, Name: "Acme", Plan: string(plan)},
		store.User{Email: email, DisplayName: "Ada", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	p, _, err := f.svc.SignIn(t.Context(), email, pw, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// regionAudits are the account.regions entries of an account's audit log, oldest first.
func (f *fixture) regionAudits(t *testing.T, accountID string) []store.AuditEntry {
	t.Helper()
	es, err := f.st.ListAudit(t.Context(), store.AuditQuery{Subject: accountID})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(es, func(e store.AuditEntry) bool { return e.Action != "account.regions" })
}

func (f *fixture) allowed(t *testing.T, p Principal) string {
	t.Helper()
	set, err := f.svc.AllowedRegions(t.Context(), p.Account)
	if err != nil {
		t.Fatal(err)
	}
	return set.String()
}

func TestSignUpChoosesHomeRegion(t *testing.T) {
	f := newRegionFixture(t)
	in := func(email, j, home string) SignUpInput {
		return SignUpInput{AccountType: TypeIndividual, Email: email, DisplayName: "Ada", Password: pw, ClientIP: "192.0.2.1",
			Jurisdiction: j, HomeRegion: home}
	}
	for _, tc := range []struct{ email, j, home string }{
		{"us@example.com", "US", ""},        // the region of the jurisdiction
		{"any@example.com", "", ""},         // the node's own region, the nearest open one
		{"eu@example.com", "eu", "us-west"}, // an EU user may keep their data in us-west
	} {
		p, _, err := f.svc.SignUp(t.Context(), in(tc.email, tc.j, tc.home))
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if a, _ := f.st.GetAccount(t.Context(), p.Account.ID); a.Region != "us-west" || p.Account.Region != "us-west" {
			t.Fatalf("%+v: home %q", tc, a.Region)
		}
	}
	for _, tc := range []struct{ email, j, home, code string }{
		// The proposal is elsewhere: this node holds only us-west's store.
		{"eu2@example.com", "EU", "", CodeHomeRegionElsewhere},
		{"cn@example.com", "CN", "", CodeHomeRegionElsewhere},
		{"pick@example.com", "US", "eu-central", CodeHomeRegionElsewhere},
		// cn-north is opt-in: the home only of accounts of its own jurisdiction.
		{"opt@example.com", "US", "cn-north", CodeInvalidInput},
		{"mars@example.com", "US", "mars-1", topology.CodeUnknownRegion},
		{"bad@example.com", "china", "", CodeInvalidInput},
	} {
		_, _, err := f.svc.SignUp(t.Context(), in(tc.email, tc.j, tc.home))
		wantCode(t, err, tc.code)
		if _, err := f.st.GetUserByEmail(t.Context(), tc.email); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%+v: a refused sign-up stored its user (%v)", tc, err)
		}
	}
	_, _, err := f.svc.SignUp(t.Context(), in("eu3@example.com", "EU", ""))
	if e := (*Error)(nil); !errors.As(err, &e) || !strings.Contains(e.Message, "sign up through a node of eu-central") {
		t.Fatalf("refusal %v should say where to sign up", err)
	}
}

func TestFreeAccountIsLockedToHome(t *testing.T) {
	f := newRegionFixture(t)
	p := f.onPlan(t, "free@example.com", Free)
	s, err := f.svc.Regions(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Home != "us-west" || s.Allowed.String() != "us-west" || s.RegionSelection || !s.CanChange || len(s.Regions) != 3 {
		t.Fatalf("settings %+v", s)
	}
	for _, c := range s.Regions {
		if !c.Locked || c.Allowed != c.Home || c.Explanation == "" {
			t.Fatalf("free account's region %+v: every region locked, home alone allowed", c)
		}
	}
	_, err = f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: []string{"us-west", "eu-central"}})
	wantCode(t, err, topology.CodePlanLocked)
	if got := f.allowed(t, p); got != "us-west" {
		t.Fatalf("allowed %q after a refused change", got)
	}
	if es := f.regionAudits(t, p.Account.ID); len(es) != 1 || es[0].Outcome != topology.CodePlanLocked || es[0].Actor != p.User.ID {
		t.Fatalf("audit %+v: the refusal should be recorded", es)
	}
	// The home region alone is what it has: no change, nothing to audit.
	if _, err := f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: []string{"us-west"}}); err != nil {
		t.Fatal(err)
	}
	if es := f.regionAudits(t, p.Account.ID); len(es) != 1 {
		t.Fatalf("audit %+v", es)
	}
}

func TestPaidAccountChoosesRegions(t *testing.T) {
	f := newRegionFixture(t)
	p := f.onPlan(t, "pro@example.com", Pro)
	s, err := f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: []string{"eu-central", "us-west", "eu-central"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Allowed.String() != "eu-central,us-west" || !s.RegionSelection || f.allowed(t, p) != "eu-central,us-west" {
		t.Fatalf("settings %+v", s)
	}
	eu := s.Regions[1]
	if eu.ID != "eu-central" || !eu.Allowed || eu.Locked || eu.Home || eu.OptIn || !strings.Contains(eu.Explanation, "European Union") {
		t.Fatalf("eu-central %+v", eu)
	}
	if home := s.Regions[0]; !home.Home || !home.Locked || !home.Allowed {
		t.Fatalf("home %+v: always allowed, locked", home)
	}
	es := f.regionAudits(t, p.Account.ID)
	if len(es) != 1 || es[0].Outcome != "ok" || es[0].Actor != p.User.ID || !es[0].At.Equal(f.clock.Now()) ||
		es[0].Detail != "allowed us-west -> eu-central,us-west; opted in none -> none" {
		t.Fatalf("audit %+v: who, when, before and after", es)
	}

	// Back to home alone.
	f.clock.Advance(time.Minute)
	if _, err := f.svc.SetRegions(t.Context(), p, RegionsInput{}); err != nil {
		t.Fatal(err)
	}
	es = f.regionAudits(t, p.Account.ID)
	if got := f.allowed(t, p); got != "us-west" || len(es) != 2 || es[1].Detail != "allowed eu-central,us-west -> us-west; opted in none -> none" {
		t.Fatalf("allowed %q, audit %+v", got, es)
	}
}

func TestOptInRegionNeedsAcknowledgement(t *testing.T) {
	f := newRegionFixture(t)
	p := f.onPlan(t, "biz@example.com", Business)
	s, err := f.svc.Regions(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	cn := s.Regions[2]
	if !cn.OptIn || cn.OptedIn || cn.Allowed || cn.Locked ||
		cn.Warning != "Meetings may then be carried by data centers in China, under that jurisdiction's laws." {
		t.Fatalf("cn-north before opting in %+v", cn)
	}
	want := []string{"us-west", "cn-north"}
	_, err = f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: want})
	wantCode(t, err, topology.CodeOptInRequired)
	_, err = f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: want, AcknowledgeOptIn: []string{"eu-central"}})
	wantCode(t, err, topology.CodeOptInRequired)
	if got := f.allowed(t, p); got != "us-west" {
		t.Fatalf("allowed %q without the acknowledgement", got)
	}

	s, err = f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: want, AcknowledgeOptIn: []string{"cn-north"}})
	if err != nil {
		t.Fatal(err)
	}
	if cn = s.Regions[2]; !cn.Allowed || !cn.OptedIn || f.allowed(t, p) != "cn-north,us-west" {
		t.Fatalf("cn-north after opting in %+v", cn)
	}
	es := slices.DeleteFunc(f.regionAudits(t, p.Account.ID), func(e store.AuditEntry) bool { return e.Outcome != "ok" })
	if len(es) != 1 || es[0].Detail != "allowed us-west -> cn-north,us-west; opted in none -> cn-north" {
		t.Fatalf("audit %+v", es)
	}
	// Kept while it stays on (no acknowledgement again to add another region)...
	if _, err := f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: []string{"us-west", "cn-north", "eu-central"}}); err != nil {
		t.Fatal(err)
	}
	// ...and withdrawn when it is turned off.
	if _, err := f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: []string{"us-west"}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: want})
	wantCode(t, err, topology.CodeOptInRequired)
}

func TestRegionChangesRefused(t *testing.T) {
	f := newRegionFixture(t)
	p := f.onPlan(t, "biz@example.com", Business)
	for _, tc := range []struct {
		in   RegionsInput
		code string
	}{
		{RegionsInput{Allowed: []string{"eu-central"}}, topology.CodeHomeRequired},
		{RegionsInput{Allowed: []string{"us-west", "mars-1"}}, topology.CodeUnknownRegion},
		{RegionsInput{Allowed: []string{"us-west"}, AcknowledgeOptIn: []string{"mars-1"}}, topology.CodeUnknownRegion},
		{RegionsInput{Allowed: []string{"us-west", "EU Central"}}, CodeInvalidInput},
		{RegionsInput{Allowed: []string{"us-west"}, AcknowledgeOptIn: []string{""}}, CodeInvalidInput},
	} {
		_, err := f.svc.SetRegions(t.Context(), p, tc.in)
		wantCode(t, err, tc.code)
	}
	member := p
	member.User.Role = RoleMember
	_, err := f.svc.SetRegions(t.Context(), member, RegionsInput{Allowed: []string{"us-west", "eu-central"}})
	wantCode(t, err, CodeForbidden)
	if s, err := f.svc.Regions(t.Context(), member); err != nil || s.CanChange {
		t.Fatalf("a member reads the regions (%v) but may not change them (%+v)", err, s.CanChange)
	}
	key := Principal{Account: p.Account, APIKey: APIKey{ID: "k1", Scopes: Scopes}}
	_, err = f.svc.SetRegions(t.Context(), key, RegionsInput{Allowed: []string{"us-west", "eu-central"}})
	wantCode(t, err, CodeForbidden)
	if _, err := f.svc.Regions(t.Context(), Principal{Account: p.Account, APIKey: APIKey{ID: "k2"}}); err == nil {
		t.Fatal("a key without account:read read the regions")
	}
	if got := f.allowed(t, p); got != "us-west" {
		t.Fatalf("allowed %q after refusals", got)
	}
	var outcomes []string
	for _, e := range f.regionAudits(t, p.Account.ID) {
		outcomes = append(outcomes, e.Actor[:min(len(e.Actor), 7)]+" "+e.Outcome)
	}
	slices.Sort(outcomes)
	uid := p.User.ID[:7]
	want := []string{"apikey: forbidden", uid + " forbidden", uid + " home_required", uid + " invalid_input", uid + " invalid_input",
		uid + " unknown_region", uid + " unknown_region"}
	slices.Sort(want)
	if !slices.Equal(outcomes, want) {
		t.Fatalf("audit outcomes %v, want %v: every refusal recorded", outcomes, want)
	}
}

// A plan without region selection keeps meetings home, whatever was chosen on a better
// plan; a region the deployment no longer has falls away.
func TestAllowedRegionsFollowPlanAndDeployment(t *testing.T) {
	f := newRegionFixture(t)
	p := f.onPlan(t, "biz@example.com", Business)
	if _, err := f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: []string{"us-west", "eu-central"}}); err != nil {
		t.Fatal(err)
	}
	down := p.Account
	down.Plan = string(Free)
	if set, err := f.svc.AllowedRegions(t.Context(), down); err != nil || set.String() != "us-west" {
		t.Fatalf("downgraded: %v, %v", set, err)
	}
	smaller, err := New(f.st, f.mail, Options{Deployment: topology.Deployment{Regions: threeRegions.Regions[:1]}, Region: "us-west"})
	if err != nil {
		t.Fatal(err)
	}
	if set, err := smaller.AllowedRegions(t.Context(), p.Account); err != nil || set.String() != "us-west" {
		t.Fatalf("eu-central gone from the list: %v, %v", set, err)
	}
}

func TestJurisdictionNames(t *testing.T) {
	for code, want := range map[string]string{"US": "the United States", "EU": "the European Union", "CN": "China", "JP": "Japan", "ZZ": "", "QQQ": ""} {
		if got, ok := jurisdictionName(code); got != want || ok != (want != "") {
			t.Errorf("%s: %q, %v; want %q", code, got, ok, want)
		}
	}
}
