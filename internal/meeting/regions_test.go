package meeting

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

// TestMeetingKeepsTheRegionsItStartedWith: a meeting takes its host account's allowed
// set when it goes live, in its row and in every join token, and keeps it when the
// account changes its regions; its next occurrence takes the new set.
func TestMeetingKeepsTheRegionsItStartedWith(t *testing.T) {
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
	secret := []byte("0123456789abcdef0123456789abcdef")
	key, err := token.GenerateKey("us-west")
	if err != nil {
		t.Fatal(err)
	}
	tokens := token.NewIssuer(key, clock.Now)
	svc, err := New(st, tokens, secret, Options{Now: clock.Now, Log: log, AllowedRegions: accounts.AllowedRegions})
	if err != nil {
		t.Fatal(err)
	}
	a, u, err := st.CreateAccountWithOwner(t.Context(), store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: "ada@example.com", DisplayName: "Ada", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	host := account.Principal{Account: a, User: u}
	both := []string{"eu-central", "us-west"}
	if _, err := accounts.SetRegions(t.Context(), host, account.RegionsInput{Allowed: both}); err != nil {
		t.Fatal(err)
	}
	regionsOf := func(tok string) []string {
		t.Helper()
		c, err := tokens.Verify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		return c.Regions
	}

	m, err := svc.Schedule(t.Context(), host, ScheduleInput{StartsAt: t0.Add(time.Hour), Recurrence: Weekly})
	if err != nil {
		t.Fatal(err)
	}
	if got := AllowedRegions(m); len(got) != 0 {
		t.Fatalf("a meeting not yet started has regions %v", got)
	}
	tk, err := svc.Start(t.Context(), host, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := regionsOf(tk.Token); !slices.Equal(got, both) || !slices.Equal(AllowedRegions(tk.Meeting), both) {
		t.Fatalf("host token regions %v, meeting %v; want %v", got, AllowedRegions(tk.Meeting), both)
	}

	// The account narrows its set to home while the meeting is live.
	if _, err := accounts.SetRegions(t.Context(), host, account.RegionsInput{Allowed: []string{"us-west"}}); err != nil {
		t.Fatal(err)
	}
	g, err := svc.Join(t.Context(), JoinInput{MeetingID: m.ID, Passcode: m.Passcode, DisplayName: "Guest", ClientIP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := regionsOf(g.Token); !slices.Equal(got, both) {
		t.Fatalf("a later join's token has regions %v, want the meeting's own %v", got, both)
	}
	if got, err := svc.Get(t.Context(), host, m.ID); err != nil || !slices.Equal(AllowedRegions(got), both) {
		t.Fatalf("live meeting regions %v (%v), want %v", AllowedRegions(got), err, both)
	}

	// Its next occurrence starts with the account's set of then.
	if _, err := svc.End(t.Context(), host, m.ID); err != nil {
		t.Fatal(err)
	}
	if tk, err = svc.Start(t.Context(), host, m.ID); err != nil {
		t.Fatal(err)
	}
	if got := regionsOf(tk.Token); !slices.Equal(got, []string{"us-west"}) {
		t.Fatalf("next occurrence's regions %v, want [us-west]", got)
	}
}

// An account whose set cannot be decided starts no meeting.
func TestMeetingWithoutRegionsDoesNotStart(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.svc.regionsOf = func(ctx context.Context, a store.Account) (topology.AllowedSet, error) {
		return topology.AllowedSet{}, nil
	}
	m := f.schedule(t, ScheduleInput{})
	if _, err := f.svc.Start(t.Context(), f.host, m.ID); err == nil {
		t.Fatal("a meeting with no allowed region started")
	}
	if got, _ := f.st.GetMeeting(t.Context(), m.ID); got.Status == store.MeetingLive {
		t.Fatalf("meeting %+v went live", got)
	}
}

// Without a region list a meeting is allowed its account's home region alone.
func TestMeetingRegionsDefaultToHome(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	tk := f.start(t, m.ID)
	c, err := f.tokens.Verify(t.Context(), tk.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Regions, []string{"local"}) || !slices.Equal(AllowedRegions(tk.Meeting), []string{"local"}) {
		t.Fatalf("token regions %v, meeting %v; want [local]", c.Regions, AllowedRegions(tk.Meeting))
	}
}

// Every join token of a meeting carries its account's sales channel, signed by the home
// region, so that a node of a partner's region can tell the partner's customers' meetings
// from others'; an account of no recorded channel is direct.
func TestTokensCarryTheAccountsChannel(t *testing.T) {
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "local"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{now: t0}
	key, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	tokens := token.NewIssuer(key, clock.Now)
	svc, err := New(st, tokens, []byte("0123456789abcdef0123456789abcdef"), Options{Now: clock.Now, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ channel, want string }{{"lotus-bridge", "lotus-bridge"}, {"direct", "direct"}, {"", "direct"}} {
		a, u, err := st.CreateAccountWithOwner(t.Context(), store.Account{Type: account.TypeBusiness, Name: "Acme",
			Plan: string(account.Business), Channel: c.channel},
			store.User{Email: "host-" + c.want + c.channel + "@example.com", DisplayName: "Ada", PasswordHash: "unused"})
		if err != nil {
			t.Fatal(err)
		}
		host := account.Principal{Account: a, User: u}
		off := false
		m, err := svc.Schedule(t.Context(), host, ScheduleInput{Passcode: &off, WaitingRoom: &off, JoinBeforeHost: true})
		if err != nil {
			t.Fatal(err)
		}
		tk, err := svc.Start(t.Context(), host, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		gt, err := svc.Join(t.Context(), JoinInput{MeetingID: m.ID, DisplayName: "Guest"})
		if err != nil {
			t.Fatal(err)
		}
		for who, tok := range map[string]string{"host": tk.Token, "guest": gt.Token} {
			cl, err := tokens.Verify(t.Context(), tok)
			if err != nil || cl.Channel != c.want {
				t.Fatalf("channel %q: the %s's token names %q (%v); want %q", c.channel, who, cl.Channel, err, c.want)
			}
		}
	}
}
