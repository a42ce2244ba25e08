package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func invite(t *testing.T, s *Store, a Account, email, token, role string, at time.Time) (Invite, int64) {
	t.Helper()
	inv, replaced, err := s.CreateInvite(t.Context(), NewInvite{Token: token, AccountID: a.ID, Email: email, Role: role,
		InvitedBy: "u1", CreatedAt: at, ExpiresAt: at.Add(7 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return inv, replaced
}

// An invite is stored by its token's hash; a new one for the same address replaces it;
// it is accepted once, into its account with its role, and never after it was withdrawn
// or expired.
func TestInvites(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, _ := newOwner(t, s, "owner@example.com")
		t0 := time.Now()
		first, replaced := invite(t, s, a, "Bea@Example.com", "tok-1", "admin", t0)
		if replaced != 0 || first.Email != "bea@example.com" || first.TokenHash != HashToken("tok-1") || first.Region != testRegion {
			t.Fatalf("invite %+v, replaced %d", first, replaced)
		}
		second, replaced := invite(t, s, a, "bea@example.com", "tok-2", "member", t0.Add(time.Second))
		if replaced != 1 {
			t.Fatalf("re-inviting replaced %d invites, want 1", replaced)
		}
		open, err := s.ListOpenInvites(ctx, a.ID)
		if err != nil || len(open) != 1 || open[0].ID != second.ID || open[0].Role != "member" {
			t.Fatalf("open invites %+v, %v", open, err)
		}
		if _, _, err := s.AcceptInvite(ctx, "tok-1", User{DisplayName: "Bea", PasswordHash: "h"}, t0.Add(time.Minute)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the replaced invite accepted: %v", err)
		}
		if users, pending, err := s.CountMembers(ctx, a.ID, t0); err != nil || users != 1 || pending != 1 {
			t.Fatalf("CountMembers = %d, %d, %v", users, pending, err)
		}

		u, inv, err := s.AcceptInvite(ctx, "tok-2", User{DisplayName: "Bea", PasswordHash: "h", Email: "ignored@example.com", Role: "owner"}, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if u.AccountID != a.ID || u.Email != "bea@example.com" || u.Role != "member" || inv.ID != second.ID || inv.AcceptedBy != "" && inv.AcceptedBy != u.ID {
			t.Fatalf("accepted as %+v from %+v", u, inv)
		}
		if got, err := s.GetInviteByToken(ctx, "tok-2"); err != nil || got.AcceptedBy != u.ID || got.Pending(t0) {
			t.Fatalf("the accepted invite reads %+v, %v", got, err)
		}
		if _, _, err := s.AcceptInvite(ctx, "tok-2", User{DisplayName: "Bea", PasswordHash: "h"}, t0.Add(2*time.Minute)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("an invite accepted twice: %v", err)
		}
		users, err := s.ListUsers(ctx, a.ID)
		if err != nil || len(users) != 2 || users[1].ID != u.ID {
			t.Fatalf("ListUsers = %+v, %v", users, err)
		}

		// Withdrawn and expired invites are not accepted; withdrawing twice is not found.
		w, _ := invite(t, s, a, "cy@example.com", "tok-3", "member", t0)
		other, _ := newOwner(t, s, "other@example.com")
		if _, err := s.RevokeInvite(ctx, other.ID, w.ID, t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another account withdrew the invite: %v", err)
		}
		if got, err := s.RevokeInvite(ctx, a.ID, w.ID, t0); err != nil || got.Email != "cy@example.com" {
			t.Fatalf("RevokeInvite = %+v, %v", got, err)
		}
		if _, err := s.RevokeInvite(ctx, a.ID, w.ID, t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("withdrawn twice: %v", err)
		}
		if _, _, err := s.AcceptInvite(ctx, "tok-3", User{DisplayName: "Cy", PasswordHash: "h"}, t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a withdrawn invite accepted: %v", err)
		}
		invite(t, s, a, "dee@example.com", "tok-4", "member", t0)
		if _, _, err := s.AcceptInvite(ctx, "tok-4", User{DisplayName: "Dee", PasswordHash: "h"}, t0.Add(8*24*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("an expired invite accepted: %v", err)
		}

		// An address that has a user meanwhile conflicts, and the invite stays open.
		invite(t, s, a, "other@example.com", "tok-5", "member", t0)
		if _, _, err := s.AcceptInvite(ctx, "tok-5", User{DisplayName: "O", PasswordHash: "h"}, t0); !errors.Is(err, ErrConflict) {
			t.Fatalf("accepting for a taken address: %v", err)
		}
		if got, _ := s.GetInviteByToken(ctx, "tok-5"); !got.Pending(t0) {
			t.Fatalf("the invite after a conflict: %+v", got)
		}
	})
}

func TestInviteAcceptRace(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		a, _ := newOwner(t, s, "owner@example.com")
		now := time.Now()
		invite(t, s, a, "bea@example.com", "tok", "member", now)
		var wins, losses atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, _, err := s.AcceptInvite(t.Context(), "tok", User{DisplayName: "Bea", PasswordHash: "h"}, now)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
					losses.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || losses.Load() != 7 {
			t.Fatalf("%d wins and %d losses, want 1 and 7", wins.Load(), losses.Load())
		}
	})
}

// Roles change within an account, never the owner's; ownership passes whole; removing a
// user ends their sessions, revokes their keys and gives their meetings to the owner.
func TestMemberRolesRemovalAndTransfer(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, owner := newOwner(t, s, "owner@example.com")
		other, _ := newOwner(t, s, "other@example.com")
		now := time.Now()
		invite(t, s, a, "bea@example.com", "tok", "member", now)
		bea, _, err := s.AcceptInvite(ctx, "tok", User{DisplayName: "Bea", PasswordHash: "h"}, now)
		if err != nil {
			t.Fatal(err)
		}

		if before, err := s.SetUserRole(ctx, a.ID, bea.ID, "admin"); err != nil || before != "member" {
			t.Fatalf("SetUserRole = %q, %v", before, err)
		}
		if _, err := s.SetUserRole(ctx, other.ID, bea.ID, "member"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another account changed the role: %v", err)
		}
		if _, err := s.SetUserRole(ctx, a.ID, owner.ID, "member"); !errors.Is(err, ErrConflict) {
			t.Fatalf("the owner demoted: %v", err)
		}
		if _, err := s.SetUserRole(ctx, a.ID, bea.ID, "owner"); !errors.Is(err, ErrConflict) {
			t.Fatalf("a second owner made: %v", err)
		}

		if _, err := s.TransferOwnership(ctx, a.ID, bea.ID, owner.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a non-owner transferred ownership: %v", err)
		}
		if before, err := s.TransferOwnership(ctx, a.ID, owner.ID, bea.ID); err != nil || before != "admin" {
			t.Fatalf("TransferOwnership = %q, %v", before, err)
		}
		for id, want := range map[string]string{owner.ID: "admin", bea.ID: "owner"} {
			if u, _ := s.GetUser(ctx, id); u.Role != want {
				t.Fatalf("after the transfer %s is %s, want %s", id, u.Role, want)
			}
		}
		if _, err := s.RemoveUser(ctx, a.ID, bea.ID, now); !errors.Is(err, ErrConflict) {
			t.Fatalf("the owner removed: %v", err)
		}

		// The old owner, now an admin, is removed.
		if _, err := s.CreateSession(ctx, NewSession{Token: "s1", CSRFToken: "c1", UserID: owner.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateSession(ctx, NewSession{Token: "s2", CSRFToken: "c2", UserID: owner.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		mine, err := s.CreateAPIKey(ctx, NewAPIKey{AccountID: a.ID, Name: "mine", Prefix: "p1", Secret: "x", CreatedBy: owner.ID})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := s.CreateAPIKey(ctx, NewAPIKey{AccountID: a.ID, Name: "theirs", Prefix: "p2", Secret: "y", CreatedBy: bea.ID})
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.CreateMeeting(ctx, testMeeting(a, owner, "12345678901"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RemoveUser(ctx, other.ID, owner.ID, now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another account removed the user: %v", err)
		}
		r, err := s.RemoveUser(ctx, a.ID, owner.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		if r.User.ID != owner.ID || r.User.PasswordHash != "" || r.SessionsEnded != 2 || r.KeysRevoked != 1 || r.MeetingsHandled != 1 {
			t.Fatalf("removal %+v", r)
		}
		if _, err := s.GetUser(ctx, owner.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the removed user is still there: %v", err)
		}
		if _, err := s.GetSession(ctx, "s1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the removed user's session is still there: %v", err)
		}
		if k, _ := s.GetAPIKeyByPrefix(ctx, "p1"); k.ID != mine.ID || k.RevokedAt.IsZero() || k.CreatedBy != owner.ID {
			t.Fatalf("the removed user's key %+v", k)
		}
		if k, _ := s.GetAPIKeyByPrefix(ctx, "p2"); k.ID != theirs.ID || !k.RevokedAt.IsZero() {
			t.Fatalf("the owner's key %+v", k)
		}
		if got, _ := s.GetMeeting(ctx, m.ID); got.HostUserID != bea.ID {
			t.Fatalf("the removed user's meeting is hosted by %s, want the owner %s", got.HostUserID, bea.ID)
		}
		// The address is free again.
		if _, _, err := s.CreateAccountWithOwner(ctx, Account{Type: "individual", Name: "Ada", Plan: "free"},
			User{Email: "owner@example.com", DisplayName: "Ada", PasswordHash: "h"}); err != nil {
			t.Fatalf("the removed user's address cannot sign up: %v", err)
		}
	})
}

// The store refuses a second owner in an account, whatever the caller.
func TestOneOwnerPerAccount(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		a, _ := newOwner(t, s, "owner@example.com")
		_, err := s.db.ExecContext(t.Context(), `INSERT INTO users (id, account_id, region, email, display_name, password_hash, role, created_at)
			VALUES ('u2', $1, $2, 'b@example.com', 'B', 'h', 'owner', 0)`, a.ID, testRegion)
		if !isUniqueViolation(err) {
			t.Fatalf("a second owner inserted: %v", err)
		}
	})
}
