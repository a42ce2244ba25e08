package meeting

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
)

func TestGuestKeepsOneIdentityAndRemovalHolds(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	host := f.start(t, m.ID)
	join := func(key string) (Ticket, error) {
		return f.svc.Join(t.Context(), JoinInput{LinkToken: m.JoinToken, DisplayName: "Guest", ClientIP: "192.0.2.1", GuestKey: key})
	}
	a, err := join("browser-a-key")
	if err != nil {
		t.Fatal(err)
	}
	again, err := join("browser-a-key")
	if err != nil || again.Identity != a.Identity {
		t.Fatalf("same browser, identities %q and %q (%v)", a.Identity, again.Identity, err)
	}
	b, err := join("browser-b-key")
	if err != nil || b.Identity == a.Identity {
		t.Fatalf("another browser got identity %q (%v)", b.Identity, err)
	}
	if c := f.claims(t, a); !c.Waiting || c.Host {
		t.Fatalf("guest grants %+v: a waiting room meeting must hold the guest", c.Grants)
	}
	if c := f.claims(t, host); c.Waiting {
		t.Fatal("the host's token holds them in the waiting room")
	}

	err = f.svc.RecordHostAction(t.Context(), m.ID, HostAction{Action: ActionRemove, Actor: host.Identity, Subject: a.Identity})
	if err != nil {
		t.Fatal(err)
	}
	_, err = join("browser-a-key")
	wantCode(t, err, ErrRemoved)
	if _, err := join("browser-b-key"); err != nil {
		t.Fatalf("removing one guest turned away another: %v", err)
	}
	if got := f.outcomes(t, m.ID, "meeting.host.remove"); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("audit %v", got)
	}
}

func TestLockAndEndFromTheRoom(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	host := f.start(t, m.ID)
	act := func(action string) {
		t.Helper()
		if err := f.svc.RecordHostAction(t.Context(), m.ID, HostAction{Action: action, Actor: host.Identity}); err != nil {
			t.Fatal(err)
		}
	}
	act(ActionLock)
	_, err := f.guest(m, m.Passcode, "192.0.2.1")
	wantCode(t, err, ErrMeetingLocked)
	if _, err := f.svc.Start(t.Context(), f.host, m.ID); err != nil {
		t.Fatalf("a lock kept the host out: %v", err)
	}
	act(ActionUnlock)
	if _, err := f.guest(m, m.Passcode, "192.0.2.1"); err != nil {
		t.Fatalf("unlocked: %v", err)
	}
	act("admit") // audited only
	act(ActionEnd)
	act(ActionEnd) // twice is not an error, and ends once
	_, err = f.guest(m, m.Passcode, "192.0.2.1")
	wantCode(t, err, ErrMeetingEnded)
	if len(f.ended) != 1 || f.ended[0] != m.ID+" "+EndedByHost {
		t.Fatalf("OnEnded calls %v", f.ended)
	}
	for action, want := range map[string][]string{
		"meeting.host.lock": {"ok"}, "meeting.host.unlock": {"ok"}, "meeting.host.admit": {"ok"}, "meeting.host.end": {"ok", "ok"},
	} {
		if got := f.outcomes(t, m.ID, action); !slices.Equal(got, want) {
			t.Fatalf("%s audit %v, want %v", action, got, want)
		}
	}
}

func TestFullMeetingRefusesJoins(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	in := 0
	svc, err := New(f.st, f.tokens, []byte("0123456789abcdef0123456789abcdef"), Options{
		Now: f.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Occupancy: func(string, string) int { return in },
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := svc.Schedule(t.Context(), f.host, ScheduleInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Start(t.Context(), f.host, m.ID); err != nil {
		t.Fatal(err)
	}
	free, _ := account.EntitlementsOf(account.Free)
	in = free.MaxParticipants - 1
	if _, err := svc.Join(t.Context(), JoinInput{MeetingID: m.ID, Passcode: m.Passcode, DisplayName: "Last", ClientIP: "192.0.2.1"}); err != nil {
		t.Fatalf("one seat left: %v", err)
	}
	in = free.MaxParticipants
	_, err = svc.Join(t.Context(), JoinInput{MeetingID: m.ID, Passcode: m.Passcode, DisplayName: "One more", ClientIP: "192.0.2.1"})
	wantCode(t, err, &Error{Code: CodeMeetingFull})
	if _, err := svc.Start(t.Context(), f.host, m.ID); err != nil {
		t.Fatalf("a full meeting kept its host out: %v", err)
	}
}

// A node that restarts while a meeting is live keeps timing it from when it went live,
// so a restart does not extend a free meeting past 40 minutes.
func TestTimeLimitSurvivesARestart(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	f.start(t, m.ID)
	f.clock.Advance(30 * time.Minute)

	restarted, err := New(f.st, f.tokens, []byte("0123456789abcdef0123456789abcdef"), Options{
		Now: f.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := restarted.Start(t.Context(), f.host, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !tk.Meeting.StartedAt.Equal(t0) || !Deadline(tk.Meeting).Equal(t0.Add(40*time.Minute)) {
		t.Fatalf("after a restart: started %v, deadline %v", tk.Meeting.StartedAt, Deadline(tk.Meeting))
	}
}
