package meeting

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/store"
)

func ptr[T any](v T) *T { return &v }

func TestUpdateAScheduledMeeting(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{Topic: "Planning", StartsAt: t0.Add(24 * time.Hour)})
	later := t0.Add(48 * time.Hour)
	got, err := f.svc.Update(t.Context(), f.host, m.ID, UpdateInput{
		Topic: ptr("Planning, moved"), StartsAt: &later, DurationMinutes: ptr(30), TimeZone: ptr("Asia/Tokyo"),
		Recurrence: ptr(Weekly), Passcode: off(), WaitingRoom: off(), JoinBeforeHost: ptr(true), RequireSignIn: ptr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := f.st.GetMeeting(t.Context(), m.ID)
	want := m.Meeting
	want.Topic, want.StartsAt, want.DurationMinutes, want.TimeZone, want.Recurrence = "Planning, moved", later, 30, "Asia/Tokyo", Weekly
	want.Passcode, want.WaitingRoom, want.JoinBeforeHost, want.RequireSignIn = "", false, true, true
	if stored != want || got.Meeting != want {
		t.Fatalf("after the update:\n stored %+v\n got    %+v\n want   %+v", stored, got.Meeting, want)
	}
	// Joining by id needs no passcode now; turning it back on makes a new one.
	if _, err := f.svc.Lookup(t.Context(), LookupInput{MeetingID: m.ID, ClientIP: "192.0.2.1"}); err != nil {
		t.Fatalf("by id without the passcode it no longer has: %v", err)
	}
	got, err = f.svc.Update(t.Context(), f.host, m.ID, UpdateInput{Passcode: ptr(true)})
	if err != nil || got.Passcode == "" || got.Passcode == m.Passcode {
		t.Fatalf("passcode back on: %q, %v", got.Passcode, err)
	}
	// Nothing else changed with it.
	if got.Topic != "Planning, moved" || !got.StartsAt.Equal(later) || got.Recurrence != Weekly {
		t.Fatalf("a passcode change changed more: %+v", got.Meeting)
	}
	// An instant meeting again: no start, no recurrence.
	got, err = f.svc.Update(t.Context(), f.host, m.ID, UpdateInput{StartsAt: &time.Time{}, Recurrence: ptr("")})
	if err != nil || got.Kind != KindInstant || !got.StartsAt.IsZero() {
		t.Fatalf("made instant: %+v, %v", got.Meeting, err)
	}
	if got := f.outcomes(t, m.ID, "meeting.update"); !slices.Equal(got, []string{"ok", "ok", "ok"}) {
		t.Fatalf("audit %v", got)
	}
}

// Update validates as Schedule does (checkSchedule), and a refused change changes nothing.
func TestUpdateRefusesWhatScheduleRefuses(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{Topic: "Planning", StartsAt: t0.Add(time.Hour)})
	past := t0.Add(-time.Hour)
	far := t0.Add(3 * 366 * 24 * time.Hour)
	for name, in := range map[string]UpdateInput{
		"past start":       {StartsAt: &past},
		"too far":          {StartsAt: &far},
		"empty topic":      {Topic: ptr("  ")},
		"control in topic": {Topic: ptr("a\x07b")},
		"long topic":       {Topic: ptr(strings.Repeat("x", 201))},
		"zero duration":    {DurationMinutes: ptr(0)},
		"long duration":    {DurationMinutes: ptr(MaxDurationMinutes + 1)},
		"time zone":        {TimeZone: ptr("Mars/Olympus")},
		"recurrence":       {Recurrence: ptr("hourly")},
		"instant, weekly":  {StartsAt: &time.Time{}, Recurrence: ptr(Weekly)},
	} {
		if _, err := f.svc.Update(t.Context(), f.host, m.ID, in); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v, want invalid_input", name, err)
		}
	}
	// A topic that would not read as it is shown is refused with its own code, before
	// anything changes, even beside a valid change.
	for name, topic := range map[string]string{"bidi override": "Budget \u202eweiver", "zero width": "Bud\u200bget", "isolate": "\u2066Budget\u2069"} {
		_, err := f.svc.Update(t.Context(), f.host, m.ID, UpdateInput{Topic: ptr(topic), DurationMinutes: ptr(30)})
		if code, _ := CodeOf(err); code != CodeInvisibleCharacters {
			t.Errorf("%s in the topic: %v, want %s", name, err, CodeInvisibleCharacters)
		}
	}
	if got, _ := f.st.GetMeeting(t.Context(), m.ID); got != m.Meeting {
		t.Fatalf("a refused change changed the meeting: %+v", got)
	}
	if got := f.outcomes(t, m.ID, "meeting.update"); !slices.Contains(got, CodeInvisibleCharacters) || slices.Contains(got, "ok") {
		t.Fatalf("refused changes audited as %v", got)
	}
	// A meeting whose start has passed, not started by its host yet, can still have its
	// topic changed: the start it keeps is not refused for being past.
	f.clock.Advance(2 * time.Hour)
	if got, err := f.svc.Update(t.Context(), f.host, m.ID, UpdateInput{Topic: ptr("Planning (late)")}); err != nil || got.Topic != "Planning (late)" {
		t.Fatalf("topic of a meeting past its start: %+v, %v", got.Meeting, err)
	}
}

func TestLiveEndedAndCancelledMeetingsCannotBeChanged(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	_, err := f.svc.Update(t.Context(), f.host, m.ID, UpdateInput{Topic: ptr("x")})
	wantCode(t, err, ErrMeetingLive)
	_, err = f.svc.Cancel(t.Context(), f.host, m.ID)
	wantCode(t, err, ErrMeetingLive)
	if _, err := f.svc.End(t.Context(), f.host, m.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Update(t.Context(), f.host, m.ID, UpdateInput{Topic: ptr("x")})
	wantCode(t, err, ErrMeetingEnded)
	_, err = f.svc.Cancel(t.Context(), f.host, m.ID)
	wantCode(t, err, ErrMeetingEnded)
	if got := f.outcomes(t, m.ID, "meeting.update"); !slices.Equal(got, []string{CodeMeetingEnded, CodeMeetingLive}) {
		t.Fatalf("update refusals audited: %v", got)
	}
	if got := f.outcomes(t, m.ID, "meeting.cancel"); !slices.Equal(got, []string{CodeMeetingEnded, CodeMeetingLive}) {
		t.Fatalf("cancel refusals audited: %v", got)
	}

	// A recurring meeting between occurrences is changed for the coming ones.
	weekly := f.schedule(t, ScheduleInput{StartsAt: t0.Add(time.Hour), Recurrence: Weekly})
	f.clock.Advance(time.Hour)
	f.start(t, weekly.ID)
	if _, err := f.svc.End(t.Context(), f.host, weekly.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := f.svc.Update(t.Context(), f.host, weekly.ID, UpdateInput{Topic: ptr("Weekly, renamed")}); err != nil || got.Topic != "Weekly, renamed" {
		t.Fatalf("recurring meeting between occurrences: %v", err)
	}
}

func TestCancel(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{Topic: "Offsite", StartsAt: t0.Add(time.Hour), JoinBeforeHost: true})
	f.clock.Advance(time.Minute)
	got, err := f.svc.Cancel(t.Context(), f.host, m.ID)
	if err != nil || got.Status != store.MeetingCancelled || !got.EndedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("cancel: %+v, %v", got.Meeting, err)
	}
	// Nobody gets in: not by id, not by link, not the host, not before the host.
	_, err = f.guest(m, m.Passcode, "192.0.2.1")
	wantCode(t, err, ErrMeetingCancelled)
	_, err = f.svc.Join(t.Context(), JoinInput{LinkToken: m.JoinToken, DisplayName: "x", ClientIP: "192.0.2.2"})
	wantCode(t, err, ErrMeetingCancelled)
	_, err = f.svc.Start(t.Context(), f.host, m.ID)
	wantCode(t, err, ErrMeetingCancelled)
	_, err = f.svc.Join(t.Context(), JoinInput{MeetingID: m.ID, Passcode: m.Passcode, Principal: &f.host, ClientIP: "192.0.2.3"})
	wantCode(t, err, ErrMeetingCancelled)
	_, err = f.svc.Update(t.Context(), f.host, m.ID, UpdateInput{Topic: ptr("x")})
	wantCode(t, err, ErrMeetingCancelled)
	// Cancelling twice is not an error, and not a second cancellation.
	if again, err := f.svc.Cancel(t.Context(), f.host, m.ID); err != nil || again.Status != store.MeetingCancelled {
		t.Fatalf("cancel twice: %v", err)
	}
	if got := f.outcomes(t, m.ID, "meeting.cancel"); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("audit %v", got)
	}
	if got := f.outcomes(t, m.ID, "meeting.join"); len(got) != 3 || got[0] != CodeMeetingCancelled {
		t.Fatalf("join refusals audited: %v", got)
	}
	// A guessed id of a cancelled meeting still needs the passcode to learn so.
	_, err = f.guest(m, "wrong", "192.0.2.4")
	wantCode(t, err, ErrWrongPasscode)
}

// Only the host, owners and admins of its account, and keys with meetings:write change or
// cancel a meeting; to anyone else another's meeting does not exist.
func TestUpdateAndCancelPermissions(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{Topic: "Board"})
	member := f.host
	member.User.ID, member.User.Role = "member-1", account.RoleMember
	other := f.newAccount(t, "eve@example.com", account.Pro)
	reader := account.Principal{Account: f.host.Account, APIKey: account.APIKey{ID: "k1", Scopes: []string{account.ScopeMeetingsRead}}}
	for name, p := range map[string]account.Principal{"member": member, "other account": other} {
		_, err := f.svc.Update(t.Context(), p, m.ID, UpdateInput{Topic: ptr("mine")})
		wantCode(t, err, ErrNotFound)
		_, err = f.svc.Cancel(t.Context(), p, m.ID)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s cancelled: %v", name, err)
		}
	}
	_, err := f.svc.Update(t.Context(), reader, m.ID, UpdateInput{Topic: ptr("mine")})
	wantCode(t, err, ErrForbidden)
	_, err = f.svc.Cancel(t.Context(), reader, m.ID)
	wantCode(t, err, ErrForbidden)
	if got, _ := f.st.GetMeeting(t.Context(), m.ID); got != m.Meeting {
		t.Fatalf("refused callers changed the meeting: %+v", got)
	}

	admin := f.host
	admin.User.ID, admin.User.Role = "admin-1", account.RoleAdmin
	if got, err := f.svc.Update(t.Context(), admin, m.ID, UpdateInput{Topic: ptr("Board (admin)")}); err != nil || got.Topic != "Board (admin)" {
		t.Fatalf("admin: %v", err)
	}
	writer := account.Principal{Account: f.host.Account, APIKey: account.APIKey{ID: "k2", Scopes: []string{account.ScopeMeetingsWrite}}}
	if got, err := f.svc.Cancel(t.Context(), writer, m.ID); err != nil || got.Status != store.MeetingCancelled {
		t.Fatalf("key with meetings:write: %v", err)
	}
}

func TestLookup(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{Topic: "Design review", StartsAt: t0.Add(time.Hour)})
	want := PublicInfo{Topic: "Design review", HostName: "ada", Status: store.MeetingScheduled, StartsAt: t0.Add(time.Hour)}
	for name, in := range map[string]LookupInput{
		"link":        {LinkToken: m.JoinToken, ClientIP: "192.0.2.1"},
		"id+passcode": {MeetingID: FormatID(m.ID), Passcode: m.Passcode, ClientIP: "192.0.2.1"},
		// As a person types what was read out to them: lower case, in groups.
		"id+passcode as typed": {MeetingID: m.ID, Passcode: strings.ToLower(m.Passcode[:4] + "-" + m.Passcode[4:8] + " " + m.Passcode[8:]), ClientIP: "192.0.2.1"},
	} {
		if got, err := f.svc.Lookup(t.Context(), in); err != nil || got != want {
			t.Errorf("by %s: %+v, %v; want %+v", name, got, err, want)
		}
	}
	f.start(t, m.ID)
	if got, _ := f.svc.Lookup(t.Context(), LookupInput{LinkToken: m.JoinToken}); got.Status != store.MeetingLive {
		t.Fatalf("live meeting looked up as %q", got.Status)
	}
	if _, err := f.svc.End(t.Context(), f.host, m.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.Lookup(t.Context(), LookupInput{LinkToken: m.JoinToken}); got.Status != store.MeetingEnded {
		t.Fatalf("ended meeting looked up as %q", got.Status)
	}
	// A recurring meeting between occurrences is scheduled, for its next one.
	weekly := f.schedule(t, ScheduleInput{StartsAt: t0, Recurrence: Weekly})
	f.start(t, weekly.ID)
	if _, err := f.svc.End(t.Context(), f.host, weekly.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Hour)
	got, err := f.svc.Lookup(t.Context(), LookupInput{LinkToken: weekly.JoinToken})
	if err != nil || got.Status != store.MeetingScheduled || !got.StartsAt.Equal(t0.Add(7*24*time.Hour)) {
		t.Fatalf("recurring meeting between occurrences: %+v, %v", got, err)
	}

	// Wrong credentials tell nothing.
	for name, in := range map[string]LookupInput{
		"forged link":   {LinkToken: m.ID + strings.Repeat("A", 43)},
		"garbage link":  {LinkToken: "nonsense"},
		"unknown id":    {MeetingID: "99999999999", Passcode: "x"},
		"no passcode":   {MeetingID: m.ID},
		"id and link":   {MeetingID: m.ID, LinkToken: m.JoinToken},
		"long passcode": {MeetingID: m.ID, Passcode: strings.Repeat("x", 100)},
	} {
		got, err := f.svc.Lookup(t.Context(), in)
		var e *Error
		if !errors.As(err, &e) || got != (PublicInfo{}) {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
	if got := f.outcomes(t, m.ID, "meeting.lookup"); !slices.Equal(got, []string{"invalid_link", CodeWrongPasscode}) {
		t.Fatalf("failed lookups audited: %v", got)
	}
}

// Lookups are guesses like joins: they spend the same buckets.
func TestLookupsAreRateLimitedWithJoins(t *testing.T) {
	f := newFixture(t, fixtureOpts{limits: Limits{
		JoinPerIP:      RateLimit{Every: time.Minute, Burst: 3},
		JoinPerMeeting: RateLimit{Every: time.Minute, Burst: 100},
	}})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	for range 3 {
		_, err := f.svc.Lookup(t.Context(), LookupInput{LinkToken: m.ID + strings.Repeat("B", 43), ClientIP: "192.0.2.1"})
		wantCode(t, err, ErrNotFound)
	}
	_, err := f.svc.Lookup(t.Context(), LookupInput{LinkToken: m.JoinToken, ClientIP: "192.0.2.1"})
	wantCode(t, err, ErrRateLimited)
	_, err = f.guest(m, m.Passcode, "192.0.2.1")
	wantCode(t, err, ErrRateLimited)
	// Another address is not held up.
	if _, err := f.svc.Lookup(t.Context(), LookupInput{LinkToken: m.JoinToken, ClientIP: "192.0.2.2"}); err != nil {
		t.Fatal(err)
	}

	// Per meeting: failures against one meeting's passcode from many addresses add up.
	g := newFixture(t, fixtureOpts{limits: Limits{
		JoinPerIP:      RateLimit{Every: time.Minute, Burst: 100},
		JoinPerMeeting: RateLimit{Every: time.Minute, Burst: 2},
	}})
	n := g.schedule(t, ScheduleInput{})
	for i, ip := range []string{"198.51.100.1", "198.51.100.2"} {
		_, err := g.svc.Lookup(t.Context(), LookupInput{MeetingID: n.ID, Passcode: "wrong" + ip, ClientIP: ip})
		if !errors.Is(err, ErrWrongPasscode) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	_, err = g.svc.Lookup(t.Context(), LookupInput{MeetingID: n.ID, Passcode: n.Passcode, ClientIP: "198.51.100.3"})
	wantCode(t, err, ErrRateLimited)
}
