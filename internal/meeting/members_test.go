package meeting

import (
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

// A member who joined a business account by invitation hosts under the account's plan
// (its seats and time limit), in the regions the account allows, and the host decision
// is made on the account's facts: a member has no plan, regions or channel of their own.
func TestMemberHostsUnderTheAccountsPlanAndRegions(t *testing.T) {
	dep := topology.Deployment{Regions: []topology.Region{
		{ID: "us-west", Jurisdiction: "US", Name: "US West", Location: topology.LatLng{Lat: 45.6, Lng: -121.2}},
		{ID: "eu-central", Jurisdiction: "EU", Name: "EU Central", Location: topology.LatLng{Lat: 50.1, Lng: 8.7}},
	}}
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "us-west"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := &fakeClock{now: t0}
	accounts, err := account.New(st, nil, account.Options{Now: clock.Now, Log: log, Deployment: dep, Region: "us-west"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := token.GenerateKey("us-west")
	if err != nil {
		t.Fatal(err)
	}
	tokens := token.NewIssuer(key, clock.Now)
	var mu sync.Mutex
	var decided []policy.Facts
	svc, err := New(st, tokens, []byte("0123456789abcdef0123456789abcdef"), Options{
		Now: clock.Now, Log: log, AllowedRegions: accounts.AllowedRegions,
		MayHost: func(hf policy.HostFacts, now time.Time) policy.Decision {
			mu.Lock()
			defer mu.Unlock()
			decided = append(decided, hf.Facts)
			return policy.MayHost(hf, now)
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	// member joins an account on plan through an invitation, and starts a meeting of
	// their own; it returns the account's owner and the member's host claims.
	member := func(t *testing.T, plan account.Plan, email string, regions []string) (account.Principal, *token.Claims, Meeting) {
		t.Helper()
		a, u, err := st.CreateAccountWithOwner(t.Context(), store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(plan),
			Country: "US", BillingCountry: "US"},
			store.User{Email: "owner-" + email, DisplayName: "Olga", PasswordHash: "unused"})
		if err != nil {
			t.Fatal(err)
		}
		owner := account.Principal{Account: a, User: u}
		if regions != nil {
			if _, err := accounts.SetRegions(t.Context(), owner, account.RegionsInput{Allowed: regions}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := st.CreateInvite(t.Context(), store.NewInvite{Token: "tok-" + email, AccountID: a.ID, Email: email,
			Role: account.RoleMember, InvitedBy: u.ID, CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		_, tok, err := accounts.AcceptInvite(t.Context(), account.AcceptInviteInput{Token: "tok-" + email, DisplayName: "Mo",
			Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := accounts.Authenticate(t.Context(), tok.Token) // as each of the member's requests is
		if err != nil {
			t.Fatal(err)
		}
		if p.Account.ID != a.ID || p.User.Role != account.RoleMember {
			t.Fatalf("the member acts as %+v", p)
		}
		m, err := svc.Schedule(t.Context(), p, ScheduleInput{Topic: "Standup"})
		if err != nil {
			t.Fatal(err)
		}
		tk, err := svc.Start(t.Context(), p, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tokens.Verify(t.Context(), tk.Token)
		if err != nil {
			t.Fatal(err)
		}
		return owner, c, tk.Meeting
	}

	both := []string{"eu-central", "us-west"}
	owner, c, m := member(t, account.Business, "mo@example.com", both)
	ent, _ := account.EntitlementsOf(account.Business)
	if c.Seats != ent.MaxParticipants || !slices.Equal(c.Regions, both) || !slices.Equal(AllowedRegions(m), both) {
		t.Fatalf("a business account's member hosts with %d seats in %v (meeting %v), want %d in %v",
			c.Seats, c.Regions, AllowedRegions(m), ent.MaxParticipants, both)
	}
	if Deadline(m).Sub(m.StartedAt) != ent.MaxMeetingLength {
		t.Fatalf("deadline %v after the start, want the plan's %v", Deadline(m).Sub(m.StartedAt), ent.MaxMeetingLength)
	}
	mu.Lock()
	last := decided[len(decided)-1]
	mu.Unlock()
	want := account.PolicyFacts(nil, owner.Account)
	if last != want || last.Plan != "business" || last.HomeRegion != "us-west" || last.Channel != "direct" {
		t.Fatalf("the member's host decision had facts %+v, want the account's %+v", last, want)
	}

	// A free account's member has the free plan's limits and its home region alone.
	_, c, m = member(t, account.Free, "fi@example.com", nil)
	free, _ := account.EntitlementsOf(account.Free)
	if c.Seats != free.MaxParticipants || !slices.Equal(c.Regions, []string{"us-west"}) ||
		Deadline(m).Sub(m.StartedAt) != free.MaxMeetingLength {
		t.Fatalf("a free account's member hosts with %d seats in %v for %v", c.Seats, c.Regions, Deadline(m).Sub(m.StartedAt))
	}
}
