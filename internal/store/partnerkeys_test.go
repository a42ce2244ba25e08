package store

import (
	"strings"
	"testing"
	"time"
)

func TestPartnerKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		for _, id := range []string{"p1", "p2"} {
			if _, err := s.PutPartner(ctx, testPartner(id, PartnerOEM)); err != nil {
				t.Fatal(err)
			}
		}
		t0 := time.Now()
		k1, err := s.CreatePartnerKey(ctx, NewPartnerKey{PartnerID: "p1", Name: "crm", Prefix: "aaaa", Secret: "s1",
			Scopes: []string{"partner:accounts:read", "partner:billing:read"}, CreatedBy: "op-1", CreatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		if k1.SecretHash != HashToken("s1") || k1.Region != testRegion || k1.CreatedBy != "op-1" {
			t.Fatalf("key %+v", k1)
		}
		k2, err := s.CreatePartnerKey(ctx, NewPartnerKey{PartnerID: "p1", Name: "sync", Prefix: "bbbb", Secret: "s2",
			Scopes: []string{"partner:accounts:write"}, CreatedAt: t0.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.CreatePartnerKey(ctx, NewPartnerKey{PartnerID: "p2", Name: "x", Prefix: "aaaa", Secret: "s3"})
		wantErr(t, err, ErrConflict)
		_, err = s.CreatePartnerKey(ctx, NewPartnerKey{PartnerID: "nobody", Name: "x", Prefix: "cccc", Secret: "s"})
		wantErr(t, err, ErrNotFound)
		if _, err := s.CreatePartnerKey(ctx, NewPartnerKey{PartnerID: "p1", Name: "x", Prefix: "dddd", Secret: "s",
			Scopes: []string{"a b"}}); err == nil {
			t.Fatal("scope with a space accepted")
		}
		wrong := NewPartnerKey{PartnerID: "p1", Name: "x", Prefix: "eeee", Secret: "s", Region: "elsewhere"}
		_, err = s.CreatePartnerKey(ctx, wrong)
		wantErr(t, err, ErrWrongRegion)

		got, err := s.GetPartnerKeyByPrefix(ctx, "aaaa")
		if err != nil || got.ID != k1.ID || got.PartnerID != "p1" || strings.Join(got.Scopes, " ") != "partner:accounts:read partner:billing:read" ||
			!got.LastUsedAt.IsZero() {
			t.Fatalf("GetPartnerKeyByPrefix = %+v, %v", got, err)
		}
		_, err = s.GetPartnerKeyByPrefix(ctx, "zzzz")
		wantErr(t, err, ErrNotFound)
		keys, err := s.ListPartnerKeys(ctx, "p1")
		if err != nil || len(keys) != 2 || keys[0].ID != k1.ID || keys[1].ID != k2.ID {
			t.Fatalf("ListPartnerKeys(p1) = %+v, %v", keys, err)
		}
		if keys, err := s.ListPartnerKeys(ctx, "p2"); err != nil || len(keys) != 0 {
			t.Fatalf("ListPartnerKeys(p2) = %+v, %v", keys, err)
		}

		// Last use moves forward only.
		used := t0.Add(time.Hour)
		if err := s.TouchPartnerKey(ctx, k1.ID, used); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchPartnerKey(ctx, k1.ID, t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetPartnerKeyByPrefix(ctx, "aaaa"); !got.LastUsedAt.Equal(stamp(used)) {
			t.Fatalf("last used %v, want %v", got.LastUsedAt, stamp(used))
		}

		wantErr(t, s.RevokePartnerKey(ctx, "p2", k1.ID, t0), ErrNotFound) // not that partner's key
		if err := s.RevokePartnerKey(ctx, "p1", k1.ID, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokePartnerKey(ctx, "p1", k1.ID, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetPartnerKeyByPrefix(ctx, "aaaa"); !got.RevokedAt.Equal(stamp(t0)) {
			t.Fatalf("revoked at %v, want the first revocation %v", got.RevokedAt, stamp(t0))
		}
		if got, _ := s.GetPartnerKeyByPrefix(ctx, "bbbb"); !got.RevokedAt.IsZero() {
			t.Fatal("other key revoked")
		}
	})
}

func TestAccountUsers(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, owner := newOwner(t, s, "owner@example.com")
		b, _ := newOwner(t, s, "other@example.com")
		u, err := s.AddAccountUser(ctx, User{AccountID: a.ID, Email: "Member@Example.com", DisplayName: "M", PasswordHash: "h", Role: "member"})
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "member@example.com" || u.Region != testRegion || u.AccountID != a.ID {
			t.Fatalf("added %+v", u)
		}
		_, err = s.AddAccountUser(ctx, User{AccountID: b.ID, Email: "member@example.com", DisplayName: "M", PasswordHash: "h", Role: "member"})
		wantErr(t, err, ErrConflict)
		_, err = s.AddAccountUser(ctx, User{AccountID: "nobody", Email: "x@example.com", DisplayName: "X", PasswordHash: "h", Role: "member"})
		wantErr(t, err, ErrNotFound)

		users, err := s.ListAccountUsers(ctx, a.ID)
		if err != nil || len(users) != 2 || users[0].ID != owner.ID || users[1].ID != u.ID {
			t.Fatalf("users %+v, %v", users, err)
		}

		// A user of another account is not found; a host of meetings is in use.
		wantErr(t, s.DeleteAccountUser(ctx, b.ID, u.ID), ErrNotFound)
		if _, err := s.CreateMeeting(ctx, testMeeting(a, owner, "12345678901")); err != nil {
			t.Fatal(err)
		}
		wantErr(t, s.DeleteAccountUser(ctx, a.ID, owner.ID), ErrInUse)

		if _, err := s.CreateSession(ctx, NewSession{Token: "t", CSRFToken: "c", UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAccountUser(ctx, a.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetSession(ctx, "t")
		wantErr(t, err, ErrNotFound) // the user's sessions went with it
		if users, _ := s.ListAccountUsers(ctx, a.ID); len(users) != 1 {
			t.Fatalf("users after delete %+v", users)
		}
	})
}
