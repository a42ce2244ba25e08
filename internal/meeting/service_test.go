package meeting

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/ratelimit"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Sleep waits on the fake clock: it moves it on by d and remembers the wait.
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
		c.slept = append(c.slept, d)
	}
	return nil
}

// waits returns and forgets the waits Sleep was asked for.
func (c *fakeClock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.slept
	c.slept = nil
	return w
}

var t0 = time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)

type fixture struct {
	st     *store.Store
	svc    *Service
	clock  *fakeClock
	tokens *token.Issuer
	audit  *auditlog.Log
	host   account.Principal // owner of a free account

	mu       sync.Mutex
	ended    []string // "id reason"
	warnings []string // "id deadline"
}

type fixtureOpts struct {
	limits  Limits
	mayHost HostDecider
	store   func(*store.Store) Store // wraps the store the Service sees
	policy  *policy.Holder
}

func newFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "local"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, clock: &fakeClock{now: t0}}
	secret := []byte("0123456789abcdef0123456789abcdef")
	key, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	f.tokens = token.NewIssuer(key, f.clock.Now)
	var ss Store = st
	if o.store != nil {
		ss = o.store(st)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.audit = auditlog.New(ss, auditlog.Options{Now: f.clock.Now, Log: log})
	f.svc, err = New(ss, f.tokens, secret, Options{
		Now: f.clock.Now, Log: log, Audit: f.audit, Sleep: f.clock.Sleep,
		Limits: o.limits, MayHost: o.mayHost, Policy: o.policy,
		OnWarning: func(id string, d time.Time) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.warnings = append(f.warnings, id+" "+d.UTC().Format(time.RFC3339))
		},
		OnEnded: func(id, reason string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.ended = append(f.ended, id+" "+reason)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.host = f.newAccount(t, "ada@example.com", account.Free)
	return f
}

// newAccount creates an account on plan with its owner, signed in.
func (f *fixture) newAccount(t *testing.T, email string, plan account.Plan) account.Principal {
	t.Helper()
	a, u, err := f.st.CreateAccountWithOwner(t.Context(),
		store.Account{Type: account.TypeIndividual, Name: email, Plan: string(plan)},
		store.User{Email: email, DisplayName: strings.Split(email, "@")[0], PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	return account.Principal{Account: a, User: u}
}

func (f *fixture) schedule(t *testing.T, in ScheduleInput) Meeting {
	t.Helper()
	m, err := f.svc.Schedule(t.Context(), f.host, in)
	if err != nil {
		t.Fatalf("schedule: %v", err)
	}
	return m
}

func (f *fixture) start(t *testing.T, id string) Ticket {
	t.Helper()
	tk, err := f.svc.Start(t.Context(), f.host, id)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return tk
}

// guest joins by id and passcode from ip.
func (f *fixture) guest(m Meeting, passcode, ip string) (Ticket, error) {
	return f.svc.Join(context.Background(), JoinInput{MeetingID: m.ID, Passcode: passcode, DisplayName: "Guest", ClientIP: ip})
}

// outcomes lists the audit outcomes of action about subject, an entry that sums up
// repeats once for each, sorted (entries of one instant of the fixed clock have no order).
func (f *fixture) outcomes(t *testing.T, subject, action string) []string {
	t.Helper()
	f.audit.Flush(t.Context())
	es, err := f.st.ListAudit(t.Context(), store.AuditQuery{Subject: subject, Limit: store.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Action == action {
			for range e.Count {
				out = append(out, e.Outcome)
			}
		}
	}
	slices.Sort(out)
	return out
}

func wantCode(t *testing.T, err error, want *Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want code %s", err, want.Code)
	}
}

func off() *bool { b := false; return &b }

func TestScheduleDefaults(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m1 := f.schedule(t, ScheduleInput{Topic: "Stand-up"})
	m2 := f.schedule(t, ScheduleInput{})
	for _, m := range []Meeting{m1, m2} {
		if n, ok := NormalizeID(m.ID); !ok || n != m.ID || len(m.ID) != 11 {
			t.Errorf("meeting id %q is not 11 digits", m.ID)
		}
		if len(m.Passcode) != PasscodeLength || !m.WaitingRoom || m.JoinBeforeHost || m.RequireSignIn || m.Locked {
			t.Errorf("defaults: passcode %q waiting %v jbh %v sign-in %v locked %v",
				m.Passcode, m.WaitingRoom, m.JoinBeforeHost, m.RequireSignIn, m.Locked)
		}
		if m.Kind != KindInstant || m.Status != store.MeetingScheduled || m.TimeZone != "UTC" || m.DurationMinutes != DefaultDurationMinutes {
			t.Errorf("meeting %+v", m.Meeting)
		}
		if m.AccountID != f.host.Account.ID || m.HostUserID != f.host.User.ID || !m.CreatedAt.Equal(t0) {
			t.Errorf("owner or time: %+v", m.Meeting)
		}
		// The join token is never stored, only its hash, and can be recomputed.
		if m.JoinTokenHash != store.HashToken(m.JoinToken) || strings.Contains(m.JoinTokenHash, m.JoinToken) {
			t.Errorf("join token %q hash %q", m.JoinToken, m.JoinTokenHash)
		}
		if id, ok := f.svc.VerifyJoinToken(m.JoinToken); !ok || id != m.ID {
			t.Errorf("join token does not verify: %q %v", id, ok)
		}
		got, err := f.svc.Get(t.Context(), f.host, m.ID)
		if err != nil || got.Passcode != m.Passcode || got.JoinToken != m.JoinToken {
			t.Errorf("get: %+v %v", got, err)
		}
	}
	if m1.ID == m2.ID || m1.Passcode == m2.Passcode || m1.JoinToken == m2.JoinToken {
		t.Fatal("two meetings share an id, passcode or join token")
	}
	if m1.Topic != "Stand-up" || m2.Topic != "ada's meeting" {
		t.Fatalf("topics %q %q", m1.Topic, m2.Topic)
	}
	if got := f.outcomes(t, m1.ID, "meeting.schedule"); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("audit %v", got)
	}

	m3 := f.schedule(t, ScheduleInput{Passcode: off(), WaitingRoom: off(), JoinBeforeHost: true, RequireSignIn: true})
	if m3.Passcode != "" || m3.WaitingRoom || !m3.JoinBeforeHost || !m3.RequireSignIn {
		t.Fatalf("options not kept: %+v", m3.Meeting)
	}
}

func TestScheduledMeetingWithTimeZoneAndRecurrence(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	starts := time.Date(2030, 3, 18, 9, 0, 0, 0, berlin) // a Monday, CET
	m := f.schedule(t, ScheduleInput{StartsAt: starts, DurationMinutes: 30, TimeZone: "Europe/Berlin", Recurrence: Weekly})
	if m.Kind != KindScheduled || !m.StartsAt.Equal(starts) || m.TimeZone != "Europe/Berlin" || m.Recurrence != Weekly || m.DurationMinutes != 30 {
		t.Fatalf("%+v", m.Meeting)
	}
	got, err := f.svc.Get(t.Context(), f.host, FormatID(m.ID)) // as people type it
	if err != nil || !got.StartsAt.Equal(starts) || got.Recurrence != Weekly {
		t.Fatalf("get %+v %v", got.Meeting, err)
	}
	// The occurrence after the change to summer time is still at 09:00 in Berlin.
	next := NextStart(got, time.Date(2030, 3, 26, 12, 0, 0, 0, time.UTC))
	if want := time.Date(2030, 4, 1, 9, 0, 0, 0, berlin); !next.Equal(want) || next.In(berlin).Hour() != 9 {
		t.Fatalf("next start %v, want %v", next, want)
	}
	// During an occurrence, it is the next start.
	if next := NextStart(got, starts.Add(10*time.Minute)); !next.Equal(starts) {
		t.Fatalf("during the first occurrence: %v", next)
	}
	weekdays := got
	weekdays.Recurrence = Weekdays
	fri := time.Date(2030, 3, 22, 9, 0, 0, 0, berlin)
	if next := NextStart(weekdays, fri.Add(time.Hour)); next.In(berlin).Weekday() != time.Monday {
		t.Fatalf("weekdays after Friday: %v", next.In(berlin))
	}
}

func TestScheduleRefusals(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for name, in := range map[string]ScheduleInput{
		"unknown zone":         {TimeZone: "Mars/Olympus_Mons"},
		"local zone":           {TimeZone: "Local"},
		"scheduled, no start":  {Kind: KindScheduled},
		"past start":           {StartsAt: t0.Add(-time.Hour)},
		"too far ahead":        {StartsAt: t0.Add(3 * 366 * 24 * time.Hour)},
		"instant, recurring":   {Recurrence: Weekly},
		"instant with a start": {Kind: KindInstant, StartsAt: t0.Add(time.Hour)},
		"unknown recurrence":   {StartsAt: t0.Add(time.Hour), Recurrence: "FREQ=HOURLY"},
		"unknown kind":         {Kind: "webinar"},
		"too long":             {DurationMinutes: MaxDurationMinutes + 1},
		"negative duration":    {DurationMinutes: -5},
		"long topic":           {Topic: strings.Repeat("x", maxTopicLength+1)},
		"control characters":   {Topic: "a\x00b"},
	} {
		if _, err := f.svc.Schedule(t.Context(), f.host, in); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	key := account.Principal{Account: f.host.Account, APIKey: account.APIKey{ID: "k1", Scopes: account.Scopes}}
	if _, err := f.svc.Schedule(t.Context(), key, ScheduleInput{}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an API key scheduled: %v", err)
	}
	if ms, _ := f.st.ListMeetingsByAccount(t.Context(), f.host.Account.ID, 0); len(ms) != 0 {
		t.Fatalf("%d meetings stored by refused requests", len(ms))
	}
}

// A topic or display name that would be shown other than it reads is refused with its
// own code, and nothing is stored.
func TestInvisibleCharactersRefused(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for _, topic := range []string{"Review\u202E", "\u200B", "Re\u2060view"} {
		_, err := f.svc.Schedule(t.Context(), f.host, ScheduleInput{Topic: topic})
		if code, _ := CodeOf(err); code != CodeInvisibleCharacters {
			t.Errorf("topic %+q: %v", topic, err)
		}
	}
	if ms, _ := f.st.ListMeetingsByAccount(t.Context(), f.host.Account.ID, 0); len(ms) != 0 {
		t.Fatalf("%d meetings stored by refused requests", len(ms))
	}
	m := f.schedule(t, ScheduleInput{Topic: "Review"})
	f.start(t, m.ID)
	for _, name := range []string{"ada\u202Etsoh", "ad\u200Da", "\uFFA0", "ada\u2067"} {
		_, err := f.svc.Join(t.Context(), JoinInput{MeetingID: m.ID, Passcode: m.Passcode, DisplayName: name, ClientIP: "192.0.2.9"})
		if code, _ := CodeOf(err); code != CodeInvisibleCharacters {
			t.Errorf("display name %+q: %v", name, err)
		}
	}
}

// conflictingStore makes the first n CreateMeeting calls fail as if the id were taken.
type conflictingStore struct {
	*store.Store
	n   int
	ids []string
}

func (c *conflictingStore) CreateMeeting(ctx context.Context, m store.Meeting) (store.Meeting, error) {
	c.ids = append(c.ids, m.ID)
	if c.n > 0 {
		c.n--
		return store.Meeting{}, fmt.Errorf("store: create meeting: %w", store.ErrConflict)
	}
	return c.Store.CreateMeeting(ctx, m)
}

func TestScheduleDrawsAnotherIDOnConflict(t *testing.T) {
	cs := &conflictingStore{n: 2}
	f := newFixture(t, fixtureOpts{store: func(s *store.Store) Store { cs.Store = s; return cs }})
	m := f.schedule(t, ScheduleInput{})
	if len(cs.ids) != 3 || cs.ids[2] != m.ID || cs.ids[0] == cs.ids[1] || cs.ids[1] == cs.ids[2] {
		t.Fatalf("ids tried %v, meeting %s", cs.ids, m.ID)
	}
	if id, ok := f.svc.VerifyJoinToken(m.JoinToken); !ok || id != m.ID {
		t.Fatal("the join token is not the stored id's")
	}
}

// The hosting decision is policy.MayHost's, fed with the plan's entitlements. No plan
// refuses hosting today, so a decider that records its facts stands in for it here, and an
// account whose plan is unknown (entitled to nothing) goes through the real one.
func TestHostingDecidedByPolicy(t *testing.T) {
	var mu sync.Mutex
	var facts []policy.HostFacts
	refuse := false
	decider := func(hf policy.HostFacts, now time.Time) policy.Decision {
		mu.Lock()
		defer mu.Unlock()
		facts = append(facts, hf)
		if refuse {
			return policy.Decision{Code: policy.CodeAccountDisabled, Reason: "the account is disabled"}
		}
		return policy.MayHost(hf, now)
	}
	f := newFixture(t, fixtureOpts{mayHost: decider})
	m := f.schedule(t, ScheduleInput{})
	if len(facts) != 1 || !facts[0].PlanAllowsHosting || facts[0].AccountDisabled {
		t.Fatalf("facts of a free account: %+v", facts)
	}
	mu.Lock()
	refuse = true
	mu.Unlock()
	_, err := f.svc.Start(t.Context(), f.host, m.ID)
	var e *Error
	if !errors.As(err, &e) || e.Code != policy.CodeAccountDisabled || e.Message != "the account is disabled" {
		t.Fatalf("start refused by policy: %v", err)
	}
	if _, err := f.svc.Schedule(t.Context(), f.host, ScheduleInput{}); !errors.As(err, &e) || e.Code != policy.CodeAccountDisabled {
		t.Fatalf("schedule refused by policy: %v", err)
	}
	if got := f.outcomes(t, m.ID, "meeting.start"); !slices.Equal(got, []string{policy.CodeAccountDisabled}) {
		t.Fatalf("audit of the refused start: %v", got)
	}
	if sm, _ := f.st.GetMeeting(t.Context(), m.ID); sm.Status != store.MeetingScheduled {
		t.Fatalf("status %s after a refused start", sm.Status)
	}
	// Participants cannot start the clock of an account that may not host either.
	jbh := f.newFixtureMeetingRaw(t, m, true)
	if _, err := f.guest(jbh, jbh.Passcode, "192.0.2.1"); !errors.As(err, &e) || e.Code != policy.CodeAccountDisabled {
		t.Fatalf("join before host of a refused account: %v", err)
	}

	// The real decision: a plan without the Host entitlement cannot host.
	g := newFixture(t, fixtureOpts{})
	gm := g.schedule(t, ScheduleInput{})
	retired := g.host
	retired.Account.Plan = "retired" // what an account on a plan that no longer exists would look like
	_, err = g.svc.Start(t.Context(), retired, gm.ID)
	wantCode(t, err, ErrPlanCannotHost)
	if got := g.outcomes(t, gm.ID, "meeting.start"); !slices.Equal(got, []string{policy.CodePlanCannotHost}) {
		t.Fatalf("audit: %v", got)
	}
	_, err = g.svc.Schedule(t.Context(), retired, ScheduleInput{})
	wantCode(t, err, ErrPlanCannotHost)
}

// newFixtureMeetingRaw stores a copy of m under a new id with join-before-host set as
// given, bypassing Schedule (whose policy check may refuse).
func (f *fixture) newFixtureMeetingRaw(t *testing.T, m Meeting, jbh bool) Meeting {
	t.Helper()
	sm := m.Meeting
	id, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	sm.ID, sm.JoinBeforeHost, sm.JoinTokenHash = id, jbh, store.HashToken(f.svc.JoinToken(id))
	sm, err = f.st.CreateMeeting(t.Context(), sm)
	if err != nil {
		t.Fatal(err)
	}
	return Meeting{Meeting: sm, JoinToken: f.svc.JoinToken(id)}
}

func (f *fixture) claims(t *testing.T, tk Ticket) *token.Claims {
	t.Helper()
	c, err := f.tokens.Verify(t.Context(), tk.Token)
	if err != nil {
		t.Fatalf("ticket token: %v", err)
	}
	if c.Room != tk.Room || c.Identity != tk.Identity || c.Name != tk.Name {
		t.Fatalf("claims %+v, ticket %+v", c, tk)
	}
	return c
}

func TestStartAndJoin(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{Topic: "Review"})

	host := f.start(t, m.ID)
	c := f.claims(t, host)
	if host.Room != "m-"+m.ID || host.Identity != f.host.User.ID || host.Name != "ada" ||
		!c.Host || !c.Publish || !c.Subscribe || host.Waiting || !host.Host {
		t.Fatalf("host ticket %+v claims %+v", host, c)
	}
	if sm, _ := f.st.GetMeeting(t.Context(), m.ID); sm.Status != store.MeetingLive {
		t.Fatalf("status %s after start", sm.Status)
	}
	if !host.Meeting.StartedAt.Equal(t0) || !Deadline(host.Meeting).Equal(t0.Add(40*time.Minute)) {
		t.Fatalf("started %v deadline %v", host.Meeting.StartedAt, Deadline(host.Meeting))
	}
	// Starting again lets the host back in without restarting the clock.
	f.clock.Advance(time.Minute)
	if again := f.start(t, m.ID); !again.Meeting.StartedAt.Equal(t0) {
		t.Fatalf("restart moved the clock: %v", again.Meeting.StartedAt)
	}
	if got := f.outcomes(t, m.ID, "meeting.start"); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("audit %v", got)
	}

	g, err := f.guest(m, m.Passcode, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	c = f.claims(t, g)
	if !strings.HasPrefix(g.Identity, "guest-") || len(g.Identity) < len("guest-")+16 || g.Name != "Guest" ||
		c.Host || !c.Publish || !c.Subscribe || !g.Waiting || g.Host || g.Room != host.Room {
		t.Fatalf("guest ticket %+v claims %+v", g, c)
	}
	g2, err := f.guest(m, m.Passcode, "192.0.2.1")
	if err != nil || g2.Identity == g.Identity {
		t.Fatalf("second guest %v, identity %q", err, g2.Identity)
	}
	// The join link needs no passcode.
	l, err := f.svc.Join(t.Context(), JoinInput{LinkToken: m.JoinToken, DisplayName: "Linked", ClientIP: "192.0.2.2"})
	if err != nil || !l.Waiting || l.Name != "Linked" {
		t.Fatalf("join by link: %+v %v", l, err)
	}
	// Without a waiting room nobody waits.
	open := f.schedule(t, ScheduleInput{WaitingRoom: off(), Passcode: off()})
	f.start(t, open.ID)
	if g, err := f.guest(open, "", "192.0.2.3"); err != nil || g.Waiting {
		t.Fatalf("no waiting room: %+v %v", g, err)
	}
	// The token expires soon, and never after the meeting's deadline.
	if !g.ExpiresAt.Equal(t0.Add(time.Minute+DefaultTokenTTL)) || !c.ExpiresAt.Time.Equal(g.ExpiresAt) {
		t.Fatalf("ticket expires %v", g.ExpiresAt)
	}
	f.clock.Advance(37 * time.Minute) // 2 minutes before the deadline
	late, err := f.guest(m, m.Passcode, "192.0.2.1")
	if err != nil || !late.ExpiresAt.Equal(t0.Add(40*time.Minute)) {
		t.Fatalf("late ticket %v expires %v", err, late.ExpiresAt)
	}
}

func TestOnlyTheHostStarts(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	other := f.newAccount(t, "bob@example.com", account.Free)
	if _, err := f.svc.Start(t.Context(), other, m.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another account's user started it: %v", err)
	}
	if _, err := f.svc.Get(t.Context(), other, m.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another account read it: %v", err)
	}
	admin := f.host
	admin.User.ID, admin.User.Role = "someone-else", account.RoleAdmin
	if _, err := f.svc.Start(t.Context(), admin, m.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin who is not the host started it: %v", err)
	}
	key := account.Principal{Account: f.host.Account, APIKey: account.APIKey{ID: "k1", Scopes: account.Scopes}}
	if _, err := f.svc.Start(t.Context(), key, m.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an API key started it: %v", err)
	}
	if got := f.outcomes(t, m.ID, "meeting.start"); !slices.Equal(got, []string{"denied"}) {
		t.Fatalf("audit %v", got)
	}
}

func TestJoinBeforeHost(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	_, err := f.guest(m, m.Passcode, "192.0.2.1")
	wantCode(t, err, ErrWaitingForHost)
	if got := f.outcomes(t, m.ID, "meeting.join"); !slices.Equal(got, []string{CodeWaitingForHost}) {
		t.Fatalf("audit %v", got)
	}
	if sm, _ := f.st.GetMeeting(t.Context(), m.ID); sm.Status != store.MeetingScheduled {
		t.Fatalf("status %s", sm.Status)
	}

	early := f.schedule(t, ScheduleInput{JoinBeforeHost: true})
	g, err := f.guest(early, early.Passcode, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	// The first participant starts the clock: the free plan's limit applies without a host.
	if sm, _ := f.st.GetMeeting(t.Context(), early.ID); sm.Status != store.MeetingLive || !Deadline(g.Meeting).Equal(t0.Add(40*time.Minute)) {
		t.Fatalf("status %s deadline %v", sm.Status, Deadline(g.Meeting))
	}
	if !g.Waiting {
		t.Fatal("the waiting room still holds participants who join before the host")
	}
	if f.claims(t, g).Host {
		t.Fatal("a participant got host rights")
	}
}

func TestWrongPasscodeAndForgedLinks(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	for name, pc := range map[string]string{
		"empty":     "",
		"wrong":     "aaaaaaaaaa",
		"prefix":    m.Passcode[:9],
		"longer":    m.Passcode + "x",
		"last char": m.Passcode[:9] + string(m.Passcode[9]^1),
	} {
		_, err := f.guest(m, pc, "192.0.2.1")
		if !errors.Is(err, ErrWrongPasscode) {
			t.Errorf("%s passcode: %v", name, err)
		}
	}
	other, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	forged := []string{
		m.JoinToken[:len(m.JoinToken)-1] + string(m.JoinToken[len(m.JoinToken)-1]^1), // one bit off
		other + m.JoinToken[IDDigits:], // another meeting's id with this MAC
		m.ID + strings.Repeat("A", 43),
		m.JoinToken + "A",
		"not a token",
	}
	for _, tok := range forged {
		_, err := f.svc.Join(t.Context(), JoinInput{LinkToken: tok, DisplayName: "Mallory", ClientIP: "198.51.100.7"})
		wantCode(t, err, ErrNotFound)
		if _, ok := f.svc.VerifyJoinToken(tok); ok {
			t.Errorf("forged token %q verifies", tok)
		}
	}
	// A link made with another secret does not verify either.
	g, err := New(f.st, f.tokens, []byte("another secret, 32 bytes long!!!"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.svc.VerifyJoinToken(g.JoinToken(m.ID)); ok {
		t.Fatal("a link of another secret verifies")
	}
	unknown, _ := NewID()
	_, err = f.svc.Join(t.Context(), JoinInput{MeetingID: unknown, Passcode: "x", DisplayName: "Mallory", ClientIP: "198.51.100.8"})
	wantCode(t, err, ErrNotFound)
	_, err = f.svc.Join(t.Context(), JoinInput{MeetingID: "12345", DisplayName: "Mallory", ClientIP: "198.51.100.8"})
	wantCode(t, err, ErrInvalidInput)
	_, err = f.svc.Join(t.Context(), JoinInput{MeetingID: m.ID, Passcode: m.Passcode, ClientIP: "198.51.100.8"})
	wantCode(t, err, ErrInvalidInput) // a guest needs a name
	_, err = f.svc.Join(t.Context(), JoinInput{MeetingID: m.ID, LinkToken: m.JoinToken, DisplayName: "x", ClientIP: "198.51.100.8"})
	wantCode(t, err, ErrInvalidInput)

	got := f.outcomes(t, m.ID, "meeting.join")
	if n := strings.Count(strings.Join(got, " "), CodeWrongPasscode); n != 5 {
		t.Fatalf("audit of wrong passcodes: %v", got)
	}
	if n := strings.Count(strings.Join(got, " "), "invalid_link"); n != 3 {
		t.Fatalf("audit of forged links: %v", got)
	}
	// The right passcode still works (from a fresh address), typed in lower case and
	// grouped as people read it out.
	if _, err := f.guest(m, m.Passcode, "203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.guest(m, strings.ToLower(m.Passcode[:5])+"-"+strings.ToLower(m.Passcode[5:]), "203.0.113.2"); err != nil {
		t.Fatalf("passcode typed in lower case: %v", err)
	}
}

func TestJoinRateLimits(t *testing.T) {
	f := newFixture(t, fixtureOpts{limits: Limits{
		JoinPerIP:        RateLimit{Every: time.Minute, Burst: 4},
		JoinPerMeetingIP: RateLimit{Every: time.Minute, Burst: 3},
		JoinPerMeeting:   RateLimit{Every: time.Minute, Burst: 5},
		JoinMaxDelay:     3 * time.Second,
	}})
	m := f.schedule(t, ScheduleInput{})
	n := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	f.start(t, n.ID)

	// Per address and meeting: three failures, then even the right passcode is refused
	// from that address.
	for range 3 {
		_, err := f.guest(m, "wrong", "192.0.2.1")
		wantCode(t, err, ErrWrongPasscode)
	}
	_, err := f.guest(m, m.Passcode, "192.0.2.1")
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeRateLimited || e.RetryAfter <= 0 {
		t.Fatalf("fourth attempt from one address: %v", err)
	}
	// Per address across meetings: one more failure elsewhere and the address is spent,
	// whatever it guesses.
	_, err = f.guest(n, "wrong", "192.0.2.1")
	wantCode(t, err, ErrWrongPasscode)
	_, err = f.guest(n, n.Passcode, "192.0.2.1")
	wantCode(t, err, ErrRateLimited)
	// An IPv6 client is one /64.
	for range 3 {
		_, err := f.guest(n, "wrong", "2001:db8:1:2::1")
		wantCode(t, err, ErrWrongPasscode)
	}
	_, err = f.guest(n, n.Passcode, "2001:db8:1:2:ffff::9")
	wantCode(t, err, ErrRateLimited)

	// Per meeting: failures from many addresses add up (3 already, 3 more) to more than
	// the ceiling, which slows the next attempts instead of refusing them.
	for i := range 3 {
		_, err := f.guest(m, "wrong", fmt.Sprintf("198.51.100.%d", i))
		wantCode(t, err, ErrWrongPasscode)
	}
	f.clock.waits()
	if _, err = f.guest(m, m.Passcode, "203.0.113.9"); err != nil {
		t.Fatalf("the right passcode from a fresh address, over the meeting's ceiling: %v", err)
	}
	if w := f.clock.waits(); len(w) != 1 || w[0] <= 0 || w[0] > 3*time.Second {
		t.Fatalf("over the meeting's ceiling, the join waited %v, want one wait of at most 3s", w)
	}
	// The invited get in by the link without waiting: it is not a guess.
	if _, err := f.svc.Join(t.Context(), JoinInput{LinkToken: m.JoinToken, DisplayName: "x", ClientIP: "203.0.113.10"}); err != nil {
		t.Fatalf("valid link while the meeting's limit is spent: %v", err)
	}
	if w := f.clock.waits(); len(w) != 0 {
		t.Fatalf("a valid link waited %v", w)
	}
	// Another meeting, from a fresh address, is not affected.
	if _, err := f.guest(n, n.Passcode, "203.0.113.9"); err != nil {
		t.Fatalf("other meeting: %v", err)
	}
	if got := f.outcomes(t, m.ID, "meeting.join"); !slices.Contains(got, CodeRateLimited) {
		t.Fatalf("rate limiting not audited: %v", got)
	}

	// The buckets refill with time.
	f.clock.Advance(5 * time.Minute)
	if _, err := f.guest(m, m.Passcode, "192.0.2.1"); err != nil {
		t.Fatalf("after the limits refill: %v", err)
	}
}

func TestForgedLinksCountAgainstTheMeeting(t *testing.T) {
	f := newFixture(t, fixtureOpts{limits: Limits{
		JoinPerIP:        RateLimit{Every: time.Hour, Burst: 100},
		JoinPerMeetingIP: RateLimit{Every: time.Hour, Burst: 1},
		JoinPerMeeting:   RateLimit{Every: time.Hour, Burst: 2},
		JoinMaxDelay:     time.Second,
	}})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	for i := range 2 {
		forged := m.ID + strings.Repeat(string(rune('A'+i)), 43)
		ip := fmt.Sprintf("198.51.100.%d", i)
		_, err := f.svc.Join(t.Context(), JoinInput{LinkToken: forged, DisplayName: "x", ClientIP: ip})
		wantCode(t, err, ErrNotFound)
		_, err = f.guest(m, "wrong", ip)
		wantCode(t, err, ErrRateLimited) // one failure per address and meeting
	}
	f.clock.waits()
	if _, err := f.guest(m, m.Passcode, "203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	if w := f.clock.waits(); len(w) != 1 || w[0] != time.Second {
		t.Fatalf("after the meeting's ceiling, waits %v, want one of 1s", w)
	}
}

// Guesses from other addresses never keep a guest with the passcode out: with the default
// limits, eight addresses guessing as fast as they are let (more than the meeting's
// ceiling), the guest gets in from a fresh address every time, slowed at most by
// JoinMaxDelay; and the guessers get no more than their per-address share.
func TestGuestNotLockedOutByOthersGuessing(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	l := DefaultLimits()
	checked, refused := 0, 0
	for round := range 20 {
		for a := range 8 {
			for i := range 5 {
				ip := fmt.Sprintf("2001:db8:%d::%x", a, round*5+i+1) // one /64 each
				_, err := f.guest(m, fmt.Sprintf("GUESS%d%d%d", a, round, i), ip)
				switch {
				case errors.Is(err, ErrWrongPasscode):
					checked++
				case errors.Is(err, ErrRateLimited):
					refused++
				default:
					t.Fatalf("guess: %v", err)
				}
			}
		}
		ip := fmt.Sprintf("203.0.113.%d", round+1)
		if _, err := f.guest(m, m.Passcode, ip); err != nil {
			t.Fatalf("round %d: the guest, from a fresh address, was refused: %v", round, err)
		}
		for _, d := range f.clock.waits() {
			if d > l.JoinMaxDelay {
				t.Fatalf("round %d: a join waited %v, more than %v", round, d, l.JoinMaxDelay)
			}
		}
	}
	// Twenty rounds took at most a minute of (waited) time: each guesser had its burst
	// at the meeting and little more.
	if max := 8 * (l.JoinPerMeetingIP.Burst + 1); checked > max || checked+refused != 800 {
		t.Fatalf("%d guesses checked, %d refused; want at most %d checked", checked, refused, max)
	}
}

// Refused joins do not grow the audit log without bound: thousands of them write a
// bounded number of rows, whose counts add up to every refusal.
func TestRefusedJoinsWriteBoundedAudit(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	const attempts = 3000
	for i := range attempts {
		if i == attempts/2 {
			f.clock.Advance(auditlog.DefaultWindow) // a second window
		}
		if _, err := f.guest(m, "wrong", fmt.Sprintf("198.51.100.%d", i%4)); err == nil {
			t.Fatal("a wrong passcode joined")
		}
	}
	if got := f.outcomes(t, m.ID, "meeting.join"); len(got) != attempts {
		t.Fatalf("the audit counts %d refused joins, want %d", len(got), attempts)
	}
	es, err := f.st.ListAudit(t.Context(), store.AuditQuery{Subject: m.ID, Limit: store.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	// Per window, at most two rows for each of 4 addresses and 2 outcomes.
	if rows := len(es); rows > 2*4*2*2+1 {
		t.Fatalf("%d audit rows for %d refused joins", rows, attempts)
	}
}

func TestJoinParallelGuessesBounded(t *testing.T) {
	f := newFixture(t, fixtureOpts{limits: Limits{
		JoinPerIP:      RateLimit{Every: time.Hour, Burst: 4},
		JoinPerMeeting: RateLimit{Every: time.Hour, Burst: 100},
	}})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong := 0
	for range 40 {
		wg.Go(func() {
			_, err := f.guest(m, "wrong", "192.0.2.1")
			if errors.Is(err, ErrWrongPasscode) {
				mu.Lock()
				wrong++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wrong > 4 {
		t.Fatalf("%d guesses checked with a burst of 4", wrong)
	}
}

func TestLimiterSetStaysBounded(t *testing.T) {
	ls := ratelimit.NewSet(RateLimit{Every: time.Hour, Burst: 2}, 10)
	for i := range 100 {
		b, _ := ls.Begin(fmt.Sprintf("192.0.2.%d", i), t0)
		ls.End(b, t0, true)
	}
	if n := ls.Size(); n > 10 {
		t.Fatalf("%d keys remembered, max 10", n)
	}
}

func TestEndedMeetingsRefuseJoins(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	f.clock.Advance(10 * time.Minute)
	ended, err := f.svc.End(t.Context(), f.host, m.ID)
	if err != nil || ended.Status != store.MeetingEnded || !ended.EndedAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("end: %+v %v", ended.Meeting, err)
	}
	if len(f.ended) != 1 || f.ended[0] != m.ID+" "+EndedByHost {
		t.Fatalf("OnEnded calls %v", f.ended)
	}
	_, err = f.guest(m, m.Passcode, "192.0.2.1")
	wantCode(t, err, ErrMeetingEnded)
	_, err = f.svc.Join(t.Context(), JoinInput{LinkToken: m.JoinToken, DisplayName: "x", ClientIP: "192.0.2.2"})
	wantCode(t, err, ErrMeetingEnded)
	_, err = f.svc.Start(t.Context(), f.host, m.ID)
	wantCode(t, err, ErrMeetingEnded)
	if _, err := f.svc.End(t.Context(), f.host, m.ID); err != nil || len(f.ended) != 1 {
		t.Fatalf("ending twice: %v, OnEnded %v", err, f.ended)
	}
	if got := f.outcomes(t, m.ID, "meeting.end"); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("audit %v", got)
	}
	if got := f.outcomes(t, m.ID, "meeting.join"); !slices.Equal(got, []string{CodeMeetingEnded, CodeMeetingEnded}) {
		t.Fatalf("audit %v", got)
	}

	// A recurring meeting ends one occurrence; its host starts the next.
	weekly := f.schedule(t, ScheduleInput{StartsAt: t0.Add(time.Hour), Recurrence: Weekly})
	f.start(t, weekly.ID)
	if _, err := f.svc.End(t.Context(), f.host, weekly.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.guest(weekly, weekly.Passcode, "192.0.2.3")
	wantCode(t, err, ErrWaitingForHost)
	f.clock.Advance(7 * 24 * time.Hour)
	if tk := f.start(t, weekly.ID); tk.Meeting.Status != store.MeetingLive || !tk.Meeting.EndedAt.IsZero() {
		t.Fatalf("next occurrence: %+v", tk.Meeting.Meeting)
	}
}

func TestEndPermissions(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	member := f.host
	member.User.ID, member.User.Role = "member-1", account.RoleMember
	if _, err := f.svc.End(t.Context(), member, m.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a member ended another's meeting: %v", err)
	}
	if ms, err := f.svc.List(t.Context(), member, 0); err != nil || len(ms) != 0 {
		t.Fatalf("a member lists another's meetings: %d %v", len(ms), err)
	}
	reader := account.Principal{Account: f.host.Account, APIKey: account.APIKey{ID: "k1", Scopes: []string{account.ScopeMeetingsRead}}}
	if ms, err := f.svc.List(t.Context(), reader, 0); err != nil || len(ms) != 1 || ms[0].Passcode != m.Passcode {
		t.Fatalf("key with meetings:read lists: %v %v", ms, err)
	}
	if _, err := f.svc.End(t.Context(), reader, m.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("key without meetings:write ended it: %v", err)
	}
	nokey := account.Principal{Account: f.host.Account, APIKey: account.APIKey{ID: "k2", Scopes: []string{account.ScopeAccountRead}}}
	if _, err := f.svc.Get(t.Context(), nokey, m.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("key without meetings:read read it: %v", err)
	}
	writer := account.Principal{Account: f.host.Account, APIKey: account.APIKey{ID: "k3", Scopes: []string{account.ScopeMeetingsWrite}}}
	if got, err := f.svc.End(t.Context(), writer, m.ID); err != nil || got.Status != store.MeetingEnded {
		t.Fatalf("key with meetings:write: %v", err)
	}
}

func TestRequireSignInAndRemoval(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{RequireSignIn: true})
	f.start(t, m.ID)
	_, err := f.guest(m, m.Passcode, "192.0.2.1")
	wantCode(t, err, ErrSignInRequired)
	_, err = f.svc.Join(t.Context(), JoinInput{LinkToken: m.JoinToken, DisplayName: "x", ClientIP: "192.0.2.1"})
	wantCode(t, err, ErrSignInRequired)

	bob := f.newAccount(t, "bob@example.com", account.Free)
	tk, err := f.svc.Join(t.Context(), JoinInput{MeetingID: m.ID, Passcode: m.Passcode, Principal: &bob, ClientIP: "192.0.2.2"})
	if err != nil || tk.Identity != bob.User.ID || tk.Name != "bob" || !tk.Waiting || tk.Host {
		t.Fatalf("signed-in join: %+v %v", tk, err)
	}
	// An API key is not a signed-in person.
	key := account.Principal{Account: bob.Account, APIKey: account.APIKey{ID: "k", Scopes: account.Scopes}}
	_, err = f.svc.Join(t.Context(), JoinInput{MeetingID: m.ID, Passcode: m.Passcode, DisplayName: "bot", Principal: &key, ClientIP: "192.0.2.2"})
	wantCode(t, err, ErrSignInRequired)

	if err := f.st.AddRemoval(t.Context(), m.ID, bob.User.ID, t0); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Join(t.Context(), JoinInput{LinkToken: m.JoinToken, Principal: &bob, ClientIP: "192.0.2.2"})
	wantCode(t, err, ErrRemoved)
	if got := f.outcomes(t, m.ID, "meeting.join"); !slices.Equal(got, []string{CodeRemoved, CodeSignInRequired, CodeSignInRequired, CodeSignInRequired}) {
		t.Fatalf("audit %v", got)
	}
}

func TestHostJoiningStartsTheMeeting(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	tk, err := f.svc.Join(t.Context(), JoinInput{LinkToken: m.JoinToken, Principal: &f.host, ClientIP: "192.0.2.1"})
	if err != nil || !tk.Host || tk.Waiting || !f.claims(t, tk).Host || tk.Meeting.Status != store.MeetingLive {
		t.Fatalf("host join: %+v %v", tk, err)
	}
}

func TestDeadline(t *testing.T) {
	free, _ := account.EntitlementsOf(account.Free)
	ent, _ := account.EntitlementsOf(account.Enterprise)
	for _, c := range []struct {
		name string
		m    Meeting
		want time.Time
	}{
		{"free", Meeting{Meeting: store.Meeting{StartedAt: t0}, MaxLength: free.MaxMeetingLength}, t0.Add(40 * time.Minute)},
		{"enterprise", Meeting{Meeting: store.Meeting{StartedAt: t0}, MaxLength: ent.MaxMeetingLength}, t0.Add(ent.MaxMeetingLength)},
		{"no limit", Meeting{Meeting: store.Meeting{StartedAt: t0}}, time.Time{}},
		{"not started", Meeting{MaxLength: free.MaxMeetingLength}, time.Time{}},
	} {
		if got := Deadline(c.m); !got.Equal(c.want) {
			t.Errorf("%s: deadline %v, want %v", c.name, got, c.want)
		}
	}
	if free.MaxMeetingLength != 40*time.Minute {
		t.Fatalf("the free plan's limit is %v", free.MaxMeetingLength)
	}

	f := newFixture(t, fixtureOpts{})
	big := f.newAccount(t, "corp@example.com", account.Enterprise)
	bm, err := f.svc.Schedule(t.Context(), big, ScheduleInput{})
	if err != nil {
		t.Fatal(err)
	}
	if tk, err := f.svc.Start(t.Context(), big, bm.ID); err != nil || !Deadline(tk.Meeting).Equal(t0.Add(ent.MaxMeetingLength)) {
		t.Fatalf("enterprise start: %v deadline %v", err, Deadline(tk.Meeting))
	}
}

func TestFreeMeetingEndsAtItsTimeLimit(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	if got, _ := f.svc.Get(t.Context(), f.host, m.ID); !Deadline(got).Equal(t0.Add(40 * time.Minute)) {
		t.Fatalf("deadline %v", Deadline(got))
	}
	f.clock.Advance(34 * time.Minute)
	f.svc.Tick(t.Context())
	if len(f.warnings) != 0 {
		t.Fatalf("warned 6 minutes before: %v", f.warnings)
	}
	f.clock.Advance(time.Minute)
	f.svc.Tick(t.Context())
	f.svc.Tick(t.Context())
	want := m.ID + " " + t0.Add(40*time.Minute).Format(time.RFC3339)
	if !slices.Equal(f.warnings, []string{want}) {
		t.Fatalf("warnings %v, want once %q", f.warnings, want)
	}
	if len(f.ended) != 0 {
		t.Fatalf("ended early: %v", f.ended)
	}
	f.clock.Advance(5 * time.Minute)
	f.svc.Tick(t.Context())
	if !slices.Equal(f.ended, []string{m.ID + " time_limit"}) {
		t.Fatalf("OnEnded %v", f.ended)
	}
	sm, _ := f.st.GetMeeting(t.Context(), m.ID)
	if sm.Status != store.MeetingEnded || !sm.EndedAt.Equal(t0.Add(40*time.Minute)) {
		t.Fatalf("status %s ended %v", sm.Status, sm.EndedAt)
	}
	_, err := f.guest(m, m.Passcode, "192.0.2.1")
	wantCode(t, err, ErrMeetingEnded)
	if got := f.outcomes(t, m.ID, "meeting.end"); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("audit %v", got)
	}

	// Without a Tick, a join past the deadline ends the meeting itself.
	n := f.schedule(t, ScheduleInput{})
	f.start(t, n.ID)
	f.clock.Advance(41 * time.Minute)
	_, err = f.guest(n, n.Passcode, "192.0.2.2")
	wantCode(t, err, ErrMeetingEnded)
	if sm, _ := f.st.GetMeeting(t.Context(), n.ID); sm.Status != store.MeetingEnded {
		t.Fatalf("status %s past the deadline", sm.Status)
	}
	if !slices.Contains(f.ended, n.ID+" time_limit") {
		t.Fatalf("OnEnded %v", f.ended)
	}
}

// An IPv6 customer's /64s are one site: rotating through them gains nothing past the
// site's limit, and other sites are not held back.
func TestJoinLimitedPerIPv6Site(t *testing.T) {
	f := newFixture(t, fixtureOpts{limits: Limits{JoinPerSite: RateLimit{Every: time.Hour, Burst: 3}}})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	for i := range 3 {
		_, err := f.guest(m, "wrong", fmt.Sprintf("2001:db8:5:%x::1", i+1))
		wantCode(t, err, ErrWrongPasscode)
	}
	_, err := f.guest(m, m.Passcode, "2001:db8:5:ff::1")
	wantCode(t, err, ErrRateLimited)
	if _, err := f.guest(m, m.Passcode, "2001:db8:6::1"); err != nil {
		t.Fatalf("another site: %v", err)
	}
	if _, err := f.guest(m, m.Passcode, "192.0.2.1"); err != nil {
		t.Fatalf("an IPv4 client: %v", err)
	}
}
