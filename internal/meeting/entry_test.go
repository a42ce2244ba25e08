package meeting

import (
	"testing"
	"time"
)

// entryOf checks a ticket at the room's door, as the SFU's admission does.
func (f *fixture) entryOf(t *testing.T, tk Ticket) (Entry, error) {
	t.Helper()
	c, err := f.tokens.Verify(t.Context(), tk.Token)
	if err != nil {
		t.Fatalf("ticket token: %v", err)
	}
	return f.svc.CheckEntry(t.Context(), tk.Meeting.ID, c.Identity, c.IssuedAt.Time)
}

// A ticket enters only while the run it was issued for lasts: not after the meeting
// ends, not in its next occurrence; a removal and a lock reach the door; a meeting that
// does not exist lets no one in.
func TestCheckEntry(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	weekly := f.schedule(t, ScheduleInput{StartsAt: t0.Add(time.Hour), Recurrence: Weekly, WaitingRoom: new(bool)})
	host := f.start(t, weekly.ID)
	guest, err := f.guest(weekly, weekly.Passcode, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := f.tokens.Verify(t.Context(), guest.Token); c.Seats != 100 {
		t.Fatalf("a free plan's ticket carries %d seats, want its 100 participants", c.Seats)
	}
	if e, err := f.entryOf(t, guest); err != nil || e.Locked {
		t.Fatalf("guest of a live meeting: %+v %v", e, err)
	}
	if err := f.svc.RecordHostAction(t.Context(), weekly.ID, HostAction{Action: ActionLock, Actor: host.Identity}); err != nil {
		t.Fatal(err)
	}
	if e, err := f.entryOf(t, guest); err != nil || !e.Locked {
		t.Fatalf("guest of a locked meeting: %+v %v", e, err)
	}
	if err := f.svc.RecordHostAction(t.Context(), weekly.ID, HostAction{Action: ActionRemove, Actor: host.Identity, Subject: guest.Identity}); err != nil {
		t.Fatal(err)
	}
	_, err = f.entryOf(t, guest)
	wantCode(t, err, ErrRemoved)

	f.clock.Advance(time.Minute)
	if _, err := f.svc.End(t.Context(), f.host, weekly.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.entryOf(t, host)
	wantCode(t, err, ErrMeetingEnded)
	// The next occurrence: the old ticket stays out (its token is still unexpired), the
	// new one enters, even issued within the second the run began.
	f.clock.Advance(time.Minute + 400*time.Millisecond)
	next := f.start(t, weekly.ID)
	if _, err := f.entryOf(t, next); err != nil {
		t.Fatalf("the new occurrence's host ticket: %v", err)
	}
	_, err = f.entryOf(t, host)
	wantCode(t, err, ErrMeetingEnded)

	_, err = f.svc.CheckEntry(t.Context(), "00000000000", "anyone", t0)
	wantCode(t, err, ErrNotFound)
	later := f.schedule(t, ScheduleInput{StartsAt: t0.Add(48 * time.Hour)})
	_, err = f.svc.CheckEntry(t.Context(), later.ID, "anyone", f.clock.Now())
	wantCode(t, err, ErrWaitingForHost)
}
