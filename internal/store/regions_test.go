package store

import (
	"testing"
	"time"
)

func TestAccountRegions(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, _ := newOwner(t, s, "a@example.com")
		got, err := s.GetAccountRegions(ctx, a.ID)
		if err != nil || got != (AccountRegions{}) {
			t.Fatalf("a new account's regions = %+v, %v; want none chosen (home alone)", got, err)
		}
		chosen := AccountRegions{Allowed: "cn-north,eu-central", OptedIn: "cn-north"}
		if err := s.UpdateAccountRegions(ctx, a.ID, AccountRegions{}, chosen); err != nil {
			t.Fatal(err)
		}
		if got, err = s.GetAccountRegions(ctx, a.ID); err != nil || got != chosen {
			t.Fatalf("regions = %+v, %v; want %+v", got, err, chosen)
		}

		// A change computed from a stale read changes nothing.
		err = s.UpdateAccountRegions(ctx, a.ID, AccountRegions{}, AccountRegions{Allowed: "eu-central"})
		wantErr(t, err, ErrConflict)
		if got, _ = s.GetAccountRegions(ctx, a.ID); got != chosen {
			t.Fatalf("a stale update changed the regions to %+v", got)
		}
		wantErr(t, s.UpdateAccountRegions(ctx, "nobody", AccountRegions{}, chosen), ErrNotFound)
		_, err = s.GetAccountRegions(ctx, "nobody")
		wantErr(t, err, ErrNotFound)

		// Another account is untouched.
		b, _ := newOwner(t, s, "b@example.com")
		if got, _ = s.GetAccountRegions(ctx, b.ID); got != (AccountRegions{}) {
			t.Fatalf("another account's regions %+v", got)
		}
	})
}

func TestMeetingKeepsItsAllowedRegions(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, u := newOwner(t, s, "a@example.com")
		m, err := s.CreateMeeting(ctx, testMeeting(a, u, "12345678901"))
		if err != nil {
			t.Fatal(err)
		}
		if m.AllowedRegions != "" {
			t.Fatalf("a meeting that never went live has regions %q", m.AllowedRegions)
		}
		start := time.Now()
		if err := s.SetMeetingLive(ctx, m.ID, start, "eu-central,us-west"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetMeeting(ctx, m.ID)
		if got.Status != MeetingLive || got.AllowedRegions != "eu-central,us-west" || !got.StartedAt.Equal(start.Truncate(time.Millisecond)) {
			t.Fatalf("live meeting %+v", got)
		}
		// Ending keeps the set of its last occurrence; going live again takes the new one.
		if err := s.UpdateMeetingStatus(ctx, m.ID, MeetingEnded, start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.GetMeeting(ctx, m.ID); got.AllowedRegions != "eu-central,us-west" || !got.EndedAt.After(got.StartedAt) {
			t.Fatalf("ended meeting %+v", got)
		}
		if err := s.SetMeetingLive(ctx, m.ID, start.Add(time.Hour), "eu-central"); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.GetMeeting(ctx, m.ID); got.AllowedRegions != "eu-central" || !got.EndedAt.IsZero() {
			t.Fatalf("meeting live again %+v", got)
		}
		if list, _ := s.ListMeetingsByAccount(ctx, a.ID, 0); len(list) != 1 || list[0].AllowedRegions != "eu-central" {
			t.Fatalf("listed %+v", list)
		}
		wantErr(t, s.SetMeetingLive(ctx, "99999999999", start, "eu-central"), ErrNotFound)
	})
}

func TestAccountEntry(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, _ := newOwner(t, s, "a@example.com")
		off := AccountEntry{Mode: "off"}
		got, err := s.GetAccountEntry(ctx, a.ID)
		if err != nil || got != off {
			t.Fatalf("a new account's entry = %+v, %v; want off", got, err)
		}
		blocked := AccountEntry{Mode: "block_list", Countries: "CN,KP"}
		if err := s.UpdateAccountEntry(ctx, a.ID, off, blocked); err != nil {
			t.Fatal(err)
		}
		if got, err = s.GetAccountEntry(ctx, a.ID); err != nil || got != blocked {
			t.Fatalf("entry = %+v, %v; want %+v", got, err, blocked)
		}
		// A change computed from a stale read changes nothing.
		wantErr(t, s.UpdateAccountEntry(ctx, a.ID, off, AccountEntry{Mode: "allow_list", Countries: "DE"}), ErrConflict)
		if got, _ = s.GetAccountEntry(ctx, a.ID); got != blocked {
			t.Fatalf("a stale update changed the entry to %+v", got)
		}
		wantErr(t, s.UpdateAccountEntry(ctx, "nobody", off, blocked), ErrNotFound)
		_, err = s.GetAccountEntry(ctx, "nobody")
		wantErr(t, err, ErrNotFound)
		// The regions are another setting: untouched.
		if r, _ := s.GetAccountRegions(ctx, a.ID); r != (AccountRegions{}) {
			t.Fatalf("regions %+v", r)
		}
		b, _ := newOwner(t, s, "b@example.com")
		if got, _ = s.GetAccountEntry(ctx, b.ID); got != off {
			t.Fatalf("another account's entry %+v", got)
		}
	})
}
