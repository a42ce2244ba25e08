package browsertest

import (
	"slices"
	"testing"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

// TestSettingsRegionToggles: the sign-up page names the region that will keep a new
// account's data; an owner of a paid account sees every region with its
// jurisdiction on the settings page, the home region locked on, turns a region on with
// one click, and an opt-in region only after its warning and a confirmation; the choice
// is saved, audited and still there after a reload.
func TestSettingsRegionToggles(t *testing.T) {
	env := newEnv(t, func(c *config.Config) {
		c.Region = "us-west"
		c.Regions = []topology.Region{
			{ID: "us-west", Jurisdiction: "US", Name: "US West (Oregon)", Location: topology.LatLng{Lat: 45.6, Lng: -121.2}},
			{ID: "eu-central", Jurisdiction: "EU", Name: "EU Central (Frankfurt)", Location: topology.LatLng{Lat: 50.1, Lng: 8.7}},
			{ID: "cn-north", Jurisdiction: "CN", Name: "CN North (Beijing)", Location: topology.LatLng{Lat: 39.9, Lng: 116.4}, OptIn: true},
		}
		// A list of several regions gives each one's public key; this node's key is in its
		// data directory.
		for i, r := range c.Regions {
			k, err := token.LoadOrCreateRegionKey(c.RegionKeyPath(r.ID), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			c.Regions[i].PublicKey = k.PublicBase64()
		}
	})
	// Sign-up gives the free plan and nothing changes plans yet: make a paid account in
	// the store.
	const email, password = "ada@example.com", "correct horse battery"
	hash, err := account.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	acct, _, err := env.Server.Store.CreateAccountWithOwner(t.Context(),
		store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: email, DisplayName: "Ada", PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	allowed := func() []string {
		set, err := env.Server.Accounts.AllowedRegions(t.Context(), acct)
		if err != nil {
			t.Fatal(err)
		}
		return set.IDs()
	}

	owner := newUser(t, env, "owner")
	// The sign-up page says where a new account's data will be kept.
	owner.Navigate("/signup")
	owner.WaitText("[data-testid=home-region-note]", "kept in US West (Oregon), this site’s region")

	owner.Navigate("/signin?next=/settings")
	owner.Fill("email", email)
	owner.Fill("password", password)
	owner.Click("form[data-testid=signin-form] button[type=submit]")
	owner.WaitText("[data-testid=regions-card] [data-region=us-west]", "Your home region")
	owner.WaitText("[data-region=cn-north]", "CN North (Beijing) · CN")
	owner.WaitText("[data-region=eu-central]", "EU")
	owner.WaitFor("the home region locked on", `(() => {
		const el = document.querySelector("[data-testid=region-toggle-us-west]");
		return el.checked && el.disabled;
	})()`)

	owner.Click("[data-testid=region-toggle-eu-central]")
	owner.WaitFor("eu-central saved and on", `(() => {
		const el = document.querySelector("[data-testid=region-toggle-eu-central]");
		return el.checked && !el.disabled;
	})()`)
	if got := allowed(); !slices.Equal(got, []string{"eu-central", "us-west"}) {
		t.Fatalf("allowed %v after turning eu-central on", got)
	}

	// The opt-in region: a warning first, nothing changed until it is confirmed.
	owner.Click("[data-testid=region-toggle-cn-north]")
	owner.WaitText("[data-testid=opt-in-warning]", "Meetings may then be carried by data centers in China, under that jurisdiction's laws.")
	owner.WaitFor("cn-north still off", `!document.querySelector("[data-testid=region-toggle-cn-north]").checked`)
	if got := allowed(); slices.Contains(got, "cn-north") {
		t.Fatalf("cn-north allowed before the confirmation: %v", got)
	}
	owner.Click("[data-testid=opt-in-confirm]")
	owner.WaitGone("[data-testid=opt-in-warning]")
	owner.WaitFor("cn-north on", `document.querySelector("[data-testid=region-toggle-cn-north]").checked`)
	if got := allowed(); !slices.Equal(got, []string{"cn-north", "eu-central", "us-west"}) {
		t.Fatalf("allowed %v after confirming cn-north", got)
	}

	// Saved, so a reload shows it; and each change is in the audit log.
	owner.Navigate("/settings")
	owner.WaitFor("the saved choice shown", `(() => {
		const on = (id) => document.querySelector("[data-testid=region-toggle-" + id + "]")?.checked;
		return on("us-west") && on("eu-central") && on("cn-north");
	})()`)
	es, err := env.Server.Store.ListAudit(t.Context(), store.AuditQuery{Subject: acct.ID})
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	for _, e := range es {
		if e.Action == "account.regions" && e.Outcome == "ok" {
			changes++
		}
	}
	if changes != 2 {
		t.Fatalf("%d region changes audited, want 2: %+v", changes, es)
	}
}

// TestSettingsShowPartnerRegionToItsCustomers: a customer of the OEM partner that runs a
// region sees it on the settings page, marked as the partner's with a line saying who
// runs it, on by default, and can turn it off; a direct account's owner never sees it.
func TestSettingsShowPartnerRegionToItsCustomers(t *testing.T) {
	env := newEnv(t, func(c *config.Config) {
		c.Region = "us-west"
		c.Regions = []topology.Region{
			{ID: "us-west", Jurisdiction: "US", Name: "US West (Oregon)", Location: topology.LatLng{Lat: 45.6, Lng: -121.2}},
			{ID: "eu-central", Jurisdiction: "EU", Name: "EU Central (Frankfurt)", Location: topology.LatLng{Lat: 50.1, Lng: 8.7}},
			{ID: "cn-lotus", Jurisdiction: "CN", Name: "Lotus Bridge Beijing", Location: topology.LatLng{Lat: 39.9, Lng: 116.3}, Partner: "lotus-bridge"},
		}
		for i, r := range c.Regions {
			k, err := token.LoadOrCreateRegionKey(c.RegionKeyPath(r.ID), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			c.Regions[i].PublicKey = k.PublicBase64()
		}
		// The policy names the partner for people.
		c.PolicyFile = "../policy/examples/china-2020.yaml"
	})
	const password = "correct horse battery"
	hash, err := account.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	accounts := map[string]store.Account{}
	for email, channel := range map[string]string{"li@lotus.example": "lotus-bridge", "ann@example.com": store.ChannelDirect} {
		a, _, err := env.Server.Store.CreateAccountWithOwner(t.Context(),
			store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business), Channel: channel},
			store.User{Email: email, DisplayName: "Ada", PasswordHash: hash})
		if err != nil {
			t.Fatal(err)
		}
		accounts[email] = a
	}
	signIn := func(name, email string) *user {
		u := newUser(t, env, name)
		u.Navigate("/signin?next=/settings")
		u.Fill("email", email)
		u.Fill("password", password)
		u.Click("form[data-testid=signin-form] button[type=submit]")
		u.WaitText("[data-testid=regions-card] [data-region=us-west]", "Your home region")
		return u
	}

	customer := signIn("customer", "li@lotus.example")
	customer.WaitText("[data-region=cn-lotus]", "Partner")
	customer.WaitText("[data-testid=region-why-cn-lotus]", "Run by Lotus Bridge Networks (fictional), in China")
	customer.WaitFor("cn-lotus on by default", `document.querySelector("[data-testid=region-toggle-cn-lotus]").checked`)
	customer.Click("[data-testid=region-toggle-cn-lotus]")
	customer.WaitFor("cn-lotus saved off", `(() => {
		const el = document.querySelector("[data-testid=region-toggle-cn-lotus]");
		return !el.checked && !el.disabled;
	})()`)
	set, err := env.Server.Accounts.AllowedRegions(t.Context(), accounts["li@lotus.example"])
	if err != nil || set.String() != "us-west" {
		t.Fatalf("the customer's regions after turning cn-lotus off: %v, %v", set, err)
	}

	direct := signIn("direct", "ann@example.com")
	direct.WaitText("[data-region=eu-central]", "EU")
	direct.WaitFor("no partner region for a direct account", `!document.querySelector("[data-region=cn-lotus]")`)
}
