package account

import (
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// withPartners is threeRegions with two regions run by the OEM partner lotus-bridge (its
// domestic data centers) and one run by jade-harbor.
var withPartners = topology.Deployment{Regions: append(slices.Clone(threeRegions.Regions),
	topology.Region{ID: "cn-lotus", Jurisdiction: "CN", Name: "Lotus Bridge Beijing", Location: topology.LatLng{Lat: 39.9, Lng: 116.3}, Partner: "lotus-bridge"},
	topology.Region{ID: "cn-lotus-2", Jurisdiction: "CN", Name: "Lotus Bridge Shanghai", Location: topology.LatLng{Lat: 31.2, Lng: 121.5}, Partner: "lotus-bridge"},
	topology.Region{ID: "cn-jade", Jurisdiction: "CN", Name: "Jade Harbor Shenzhen", Location: topology.LatLng{Lat: 22.5, Lng: 114.1}, Partner: "jade-harbor"},
)}

// newPartnerFixture is a Service of a node in region of withPartners, over a real SQLite
// store of that region, running the shipped china-2020 policy (which names the partners)
// with this deployment's CN regions.
func newPartnerFixture(t *testing.T, region string) *fixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: region})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	data, err := os.ReadFile("../policy/examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The example names its one CN region cn-east; here mainland China's data centers are
	// the operator's cn-north and the partners' regions, where CN accounts' data may rest.
	cnRegions := "[cn-north, cn-lotus, cn-lotus-2, cn-jade]"
	data = []byte(strings.NewReplacer("regions: [cn-east]", "regions: "+cnRegions, "residency: [cn-east]", "residency: "+cnRegions,
		"opt_in_regions: [cn-east]", "opt_in_regions: [cn-north]").Replace(string(data)))
	pol, err := policy.Load("china-2020.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, mail: &recordingSender{}, clock: &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	f.svc, err = New(st, f.mail, Options{
		Now: f.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deployment: withPartners, Region: region, Policy: policy.NewHolder(pol),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// customer creates an account of channel on plan with its owner, signed in: what a
// partner's (or the operator's) provisioning makes.
func (f *fixture) customer(t *testing.T, email, channel string, plan Plan) Principal {
	t.Helper()
	hash, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.CreateAccountWithOwner(t.Context(),
		store.Account{Type: TypeBusiness, Name: "Customer", Plan: string(plan), Channel: channel, Country: "CN", BillingCountry: "CN"},
		store.User{Email: email, DisplayName: "Ada", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	p, _, err := f.svc.SignIn(t.Context(), email, pw, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func regionIDs(s RegionSettings) string {
	var ids []string
	for _, c := range s.Regions {
		ids = append(ids, c.ID)
	}
	return strings.Join(ids, ",")
}

// A direct account never has a partner's region: not shown, not choosable by a crafted
// request (partner_region, audited, nothing changed), not acknowledgeable, not a home.
func TestDirectAccountNeverGetsAPartnerRegion(t *testing.T) {
	f := newPartnerFixture(t, "us-west")
	p := f.customer(t, "direct@example.com", store.ChannelDirect, Business)
	s, err := f.svc.Regions(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if got := regionIDs(s); got != "us-west,eu-central,cn-north" {
		t.Fatalf("a direct account sees %s; want the operator's regions only", got)
	}
	for _, in := range []RegionsInput{
		{Allowed: []string{"us-west", "cn-lotus"}},
		{Allowed: []string{"us-west", "cn-lotus"}, AcknowledgeOptIn: []string{"cn-lotus"}},
		{Allowed: []string{"us-west"}, AcknowledgeOptIn: []string{"cn-jade"}},
		{Allowed: []string{"us-west", "eu-central", "cn-jade"}},
	} {
		_, err := f.svc.SetRegions(t.Context(), p, in)
		wantCode(t, err, topology.CodePartnerRegion)
	}
	if got := f.allowed(t, p); got != "us-west" {
		t.Fatalf("allowed %q after refused changes", got)
	}
	es := f.regionAudits(t, p.Account.ID)
	if len(es) != 4 || slices.ContainsFunc(es, func(e store.AuditEntry) bool { return e.Outcome != topology.CodePartnerRegion }) {
		t.Fatalf("audit %+v: every refusal recorded as partner_region", es)
	}
	// Even a set stored before the region became a partner's falls away.
	if err := f.st.UpdateAccountRegions(t.Context(), p.Account.ID, store.AccountRegions{},
		store.AccountRegions{Allowed: "cn-lotus,eu-central,us-west"}); err != nil {
		t.Fatal(err)
	}
	if got := f.allowed(t, p); got != "eu-central,us-west" {
		t.Fatalf("a stored partner region kept: %q", got)
	}

	// The public sign-up offers no partner region and refuses one asked for.
	choices, proposed, err := f.svc.HomeProposal("CN")
	if err != nil || proposed.ID != "cn-north" || slices.ContainsFunc(choices, func(r topology.Region) bool { return r.Partner != "" }) {
		t.Fatalf("proposal for CN: %v, %+v, %v", proposed.ID, choices, err)
	}
	_, _, err = f.svc.SignUp(t.Context(), SignUpInput{AccountType: TypeIndividual, Email: "cn@example.com", DisplayName: "Ada",
		Password: pw, ClientIP: "192.0.2.1", Country: "CN", Jurisdiction: "CN", HomeRegion: "cn-lotus"})
	wantCode(t, err, topology.CodePartnerRegion)
}

// A partner's customer homed in the partner's region is carried there by default, sees the
// partner's regions named as run by it (never another partner's), and adds the operator's
// public regions when its plan allows choosing.
func TestPartnerCustomerRegions(t *testing.T) {
	f := newPartnerFixture(t, "cn-lotus")
	p := f.customer(t, "pro@lotus.example", "lotus-bridge", Business)
	if got := f.allowed(t, p); got != "cn-lotus,cn-lotus-2" {
		t.Fatalf("default set %q; want the partner's regions", got)
	}
	s, err := f.svc.Regions(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if got := regionIDs(s); got != "us-west,eu-central,cn-north,cn-lotus,cn-lotus-2" {
		t.Fatalf("the partner's customer sees %s; want the operator's and its partner's regions", got)
	}
	home := s.Regions[3]
	if !home.Home || !home.Locked || home.PartnerName != "Lotus Bridge Networks (fictional)" ||
		!strings.HasPrefix(home.Explanation, "Run by Lotus Bridge Networks (fictional), in China: your home region") {
		t.Fatalf("home %+v", home)
	}
	if us := s.Regions[0]; us.Allowed || us.PartnerName != "" || us.Locked {
		t.Fatalf("us-west %+v: not allowed until the settings say so, and choosable", us)
	}

	// Its settings allow more: an operator's region.
	s, err = f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: []string{"cn-lotus", "cn-lotus-2", "us-west"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Allowed.String() != "cn-lotus,cn-lotus-2,us-west" || f.allowed(t, p) != "cn-lotus,cn-lotus-2,us-west" {
		t.Fatalf("after allowing us-west: %v", s.Allowed)
	}
	es := f.regionAudits(t, p.Account.ID)
	if len(es) != 1 || es[0].Detail != "allowed cn-lotus,cn-lotus-2 -> cn-lotus,cn-lotus-2,us-west; opted in none -> none" {
		t.Fatalf("audit %+v", es)
	}
	// Not another partner's region.
	_, err = f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: []string{"cn-lotus", "cn-jade"}})
	wantCode(t, err, topology.CodePartnerRegion)

	// A free customer of the partner is locked to its home, as any free account.
	free := f.customer(t, "free@lotus.example", "lotus-bridge", Free)
	if got := f.allowed(t, free); got != "cn-lotus" {
		t.Fatalf("free partner customer: %q", got)
	}
	_, err = f.svc.SetRegions(t.Context(), free, RegionsInput{Allowed: []string{"cn-lotus", "us-west"}})
	wantCode(t, err, topology.CodePlanLocked)

	// A direct account somehow homed in the partner's region (an operator's mistake) has
	// no allowed set, so it starts no meeting: fail closed.
	stray := f.customer(t, "stray@example.com", store.ChannelDirect, Business)
	if _, err := f.svc.AllowedRegions(t.Context(), stray.Account); err == nil {
		t.Fatal("a direct account homed in a partner's region got an allowed set")
	}
}
