package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
)

// postgresEnv names the PostgreSQL server the suite also runs against, e.g.
// MERIDIAN_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'.
// Each test gets a schema of its own there, dropped when it ends.
const postgresEnv = "MERIDIAN_TEST_POSTGRES"

// testRegion is not DefaultRegion, so that a row that forgot its region shows.
const testRegion = "eu-central"

// backends are the databases every test runs against.
var backends = []string{"sqlite", "postgres"}

// eachBackend runs fn as a subtest per backend, each with a fresh, empty store.
func eachBackend(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	eachConfig(t, func(t *testing.T, cfg Config) { fn(t, openStore(t, cfg)) })
}

// eachConfig runs fn as a subtest per backend with the config of a fresh database.
func eachConfig(t *testing.T, fn func(t *testing.T, cfg Config)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { fn(t, freshConfig(t, b)) })
	}
}

func freshConfig(t *testing.T, backend string) Config {
	t.Helper()
	if backend == "sqlite" {
		return Config{DataDir: t.TempDir(), Region: testRegion}
	}
	dsn := os.Getenv(postgresEnv)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("MERIDIAN_TEST_POSTGRES is not set: in CI the PostgreSQL run is mandatory")
		}
		t.Skip("MERIDIAN_TEST_POSTGRES is not set; skipping the PostgreSQL run")
	}
	return Config{PostgresDSN: freshSchema(t, dsn), Region: testRegion}
}

// freshSchema creates a schema that is dropped when the test ends and returns dsn with
// its search_path set to it, so that every connection of the pool uses it.
func freshSchema(t *testing.T, dsn string) string {
	t.Helper()
	admin, err := openPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := "test_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema (is %s right?): %v", postgresEnv, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return withSearchPath(t, dsn, schema)
}

// withSearchPath adds search_path to a DSN in URL or keyword/value form; pgx sends
// parameters it does not know to the server as settings of the session.
func withSearchPath(t *testing.T, dsn, schema string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", postgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// newOwner creates an account with its owner.
func newOwner(t *testing.T, s *Store, email string) (Account, User) {
	t.Helper()
	a, u, err := s.CreateAccountWithOwner(t.Context(),
		Account{Type: "business", Name: "Acme", Plan: "pro"},
		User{Email: email, DisplayName: "Ada", PasswordHash: "hash-1"})
	if err != nil {
		t.Fatal(err)
	}
	return a, u
}

// oldOwner creates an account and its owner with the columns of the first migration, for
// tests of a later migration run over a store migrated up to before it (the store's own
// insert names columns added since).
func oldOwner(t *testing.T, s *Store) (Account, User) {
	t.Helper()
	a := Account{ID: newID(), Region: testRegion, Type: "business", Name: "Acme", Plan: "pro", Channel: "direct"}
	u := User{ID: newID(), AccountID: a.ID, Region: testRegion, Email: "a@example.com", DisplayName: "Ada", PasswordHash: "hash-1", Role: "owner"}
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO accounts (id, region, type, name, plan, channel, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, 0)`, a.ID, a.Region, a.Type, a.Name, a.Plan, a.Channel); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO users (id, account_id, region, email, display_name, password_hash, role, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0)`, u.ID, u.AccountID, u.Region, u.Email, u.DisplayName, u.PasswordHash, u.Role); err != nil {
		t.Fatal(err)
	}
	return a, u
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func count(t *testing.T, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenMigratesOnceAndReopens(t *testing.T) {
	eachConfig(t, func(t *testing.T, cfg Config) {
		s1 := openStore(t, cfg)
		newOwner(t, s1, "a@example.com")
		s2 := openStore(t, cfg) // a second node, or a restart: migrations already applied
		if n := count(t, s2, "SELECT COUNT(*) FROM accounts"); n != 1 {
			t.Fatalf("%d accounts after reopening, want 1", n)
		}
		files, err := migrationFiles.ReadDir("migrations")
		if err != nil {
			t.Fatal(err)
		}
		// The schema is at the last migration's number (files are numbered in order, not
		// necessarily without gaps while branches are merged), each applied once.
		last, err := strconv.Atoi(strings.SplitN(files[len(files)-1].Name(), "_", 2)[0])
		if err != nil {
			t.Fatal(err)
		}
		if v := count(t, s2, "SELECT MAX(version_id) FROM goose_db_version"); v != last {
			t.Fatalf("schema version %d, want %d (the last migration)", v, last)
		}
		if n := count(t, s2, "SELECT COUNT(*) FROM goose_db_version WHERE is_applied AND version_id > 0"); n != len(files) {
			t.Fatalf("%d migrations applied, want %d (one per file)", n, len(files))
		}
		if s2.Region() != testRegion {
			t.Fatalf("region %q", s2.Region())
		}
	})
}

func TestOpenSQLiteSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openStore(t, Config{DataDir: dir})
	if s.Region() != DefaultRegion {
		t.Fatalf("region %q, want %q", s.Region(), DefaultRegion)
	}
	if _, err := os.Stat(filepath.Join(dir, SQLiteFile)); err != nil {
		t.Fatal(err)
	}
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000", "synchronous": "2",
	} {
		var got string
		if err := s.db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func TestOpenNeedsALocation(t *testing.T) {
	if _, err := Open(t.Context(), Config{}); err == nil {
		t.Fatal("Open with neither a data directory nor a DSN succeeded")
	}
	if _, err := Open(t.Context(), Config{PostgresDSN: "postgres://%zz"}); err == nil {
		t.Fatal("Open with a malformed DSN succeeded")
	}
}

// TestEveryTableHasRegion guards the roadmap: every stored row knows its home region.
func TestEveryTableHasRegion(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		tablesQ := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'`
		notNullQ := `SELECT COUNT(*) FROM pragma_table_info($1) WHERE name = 'region' AND "notnull" = 1`
		if s.dialect == goose.DialectPostgres {
			tablesQ = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
			notNullQ = `SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema()
				AND table_name = $1 AND column_name = 'region' AND is_nullable = 'NO'`
		}
		rows, err := s.db.QueryContext(t.Context(), tablesQ)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			if name != "goose_db_version" {
				tables = append(tables, name)
			}
		}
		rows.Close()
		if len(tables) != 18 {
			t.Fatalf("tables %v, want 18", tables)
		}
		for _, table := range tables {
			if count(t, s, notNullQ, table) != 1 {
				t.Errorf("table %s has no NOT NULL region column", table)
			}
		}
	})
}

func TestCreateAccountWithOwner(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		at := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)
		a, u, err := s.CreateAccountWithOwner(ctx,
			Account{Type: "individual", Name: "Ada", Plan: "free", CreatedAt: at},
			User{Email: "  Ada@Example.COM ", DisplayName: "Ada L", PasswordHash: "h", Role: "member"})
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == "" || a.Region != testRegion || a.Channel != "direct" || !a.CreatedAt.Equal(at.Truncate(time.Millisecond)) {
			t.Fatalf("account %+v", a)
		}
		if u.AccountID != a.ID || u.Role != "owner" || u.Email != "ada@example.com" || u.Region != testRegion {
			t.Fatalf("owner %+v", u)
		}
		gotA, err := s.GetAccount(ctx, a.ID)
		if err != nil || gotA != a {
			t.Fatalf("GetAccount = %+v, %v; want %+v", gotA, err, a)
		}
		gotU, err := s.GetUserByEmail(ctx, "ADA@example.com")
		if err != nil || gotU != u {
			t.Fatalf("GetUserByEmail = %+v, %v; want %+v", gotU, err, u)
		}
		if gotU, err = s.GetUser(ctx, u.ID); err != nil || gotU != u {
			t.Fatalf("GetUser = %+v, %v; want %+v", gotU, err, u)
		}
	})
}

// TestCreateAccountWithOwnerIsOneTransaction: when the user cannot be inserted, the
// account is not left behind.
func TestCreateAccountWithOwnerIsOneTransaction(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		newOwner(t, s, "taken@example.com")
		_, _, err := s.CreateAccountWithOwner(t.Context(),
			Account{ID: "second", Type: "business", Name: "Other", Plan: "free"},
			User{Email: "TAKEN@example.com", DisplayName: "B", PasswordHash: "h"})
		wantErr(t, err, ErrConflict)
		_, err = s.GetAccount(t.Context(), "second")
		wantErr(t, err, ErrNotFound)
		if n := count(t, s, "SELECT COUNT(*) FROM accounts"); n != 1 {
			t.Fatalf("%d accounts, want 1", n)
		}

		// The same with a user id already taken.
		_, u := newOwner(t, s, "first@example.com")
		_, _, err = s.CreateAccountWithOwner(t.Context(),
			Account{ID: "third", Type: "individual", Name: "X", Plan: "free"},
			User{ID: u.ID, Email: "new@example.com", DisplayName: "X", PasswordHash: "h"})
		wantErr(t, err, ErrConflict)
		_, err = s.GetAccount(t.Context(), "third")
		wantErr(t, err, ErrNotFound)
	})
}

func TestNotFound(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		_, err := s.GetUser(ctx, "nobody")
		wantErr(t, err, ErrNotFound)
		_, err = s.GetUserByEmail(ctx, "nobody@example.com")
		wantErr(t, err, ErrNotFound)
		wantErr(t, s.UpdatePasswordHash(ctx, "nobody", "h"), ErrNotFound)
		_, err = s.GetSession(ctx, "no-token")
		wantErr(t, err, ErrNotFound)
		wantErr(t, s.RevokeSession(ctx, "no-token", time.Now()), ErrNotFound)
		_, err = s.GetAPIKeyByPrefix(ctx, "mk_none")
		wantErr(t, err, ErrNotFound)
		_, err = s.GetMeeting(ctx, "12345678901")
		wantErr(t, err, ErrNotFound)
		wantErr(t, s.UpdateMeetingStatus(ctx, "12345678901", MeetingLive, time.Now()), ErrNotFound)
		wantErr(t, s.SetMeetingLocked(ctx, "12345678901", true), ErrNotFound)
		// Rows that refer to missing rows: foreign keys are enforced on both databases.
		_, err = s.CreateSession(ctx, NewSession{Token: "t", CSRFToken: "c", UserID: "nobody", ExpiresAt: time.Now()})
		wantErr(t, err, ErrNotFound)
		wantErr(t, s.AddRemoval(ctx, "12345678901", "alice", time.Now()), ErrNotFound)
	})
}

func TestWrongRegionIsRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		_, _, err := s.CreateAccountWithOwner(ctx, Account{Region: "us-west", Type: "individual", Name: "A", Plan: "free"},
			User{Email: "a@example.com"})
		wantErr(t, err, ErrWrongRegion)
		_, _, err = s.CreateAccountWithOwner(ctx, Account{Type: "individual", Name: "A", Plan: "free"},
			User{Email: "a@example.com", Region: "cn-north"})
		wantErr(t, err, ErrWrongRegion)
		_, err = s.AppendAudit(ctx, AuditEntry{Region: "us-west", Action: "x"})
		wantErr(t, err, ErrWrongRegion)
		if n := count(t, s, "SELECT COUNT(*) FROM accounts"); n != 0 {
			t.Fatalf("%d accounts stored", n)
		}
	})
}

func TestUpdatePasswordHash(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		_, u := newOwner(t, s, "a@example.com")
		if err := s.UpdatePasswordHash(t.Context(), u.ID, "hash-2"); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetUser(t.Context(), u.ID)
		if err != nil || got.PasswordHash != "hash-2" {
			t.Fatalf("user %+v, %v", got, err)
		}
	})
}

func TestSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		_, u := newOwner(t, s, "a@example.com")
		now := time.Now()
		sess, err := s.CreateSession(ctx, NewSession{Token: "tok-1", CSRFToken: "csrf-1", UserID: u.ID,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if sess.ID != HashToken("tok-1") || sess.CSRFTokenHash != HashToken("csrf-1") || sess.Region != testRegion {
			t.Fatalf("session %+v", sess)
		}
		if n := count(t, s, "SELECT COUNT(*) FROM sessions WHERE id = $1 OR csrf_token_hash = $2", "tok-1", "csrf-1"); n != 0 {
			t.Fatal("a raw token is stored")
		}
		got, err := s.GetSession(ctx, "tok-1")
		if err != nil || got != sess || !got.Active(now) || got.Active(now.Add(2*time.Hour)) {
			t.Fatalf("GetSession = %+v, %v; want %+v, active for an hour", got, err, sess)
		}
		_, err = s.CreateSession(ctx, NewSession{Token: "tok-1", CSRFToken: "x", UserID: u.ID, ExpiresAt: now})
		wantErr(t, err, ErrConflict)

		if err := s.RevokeSession(ctx, "tok-1", now); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeSession(ctx, "tok-1", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetSession(ctx, "tok-1")
		if got.Active(now) || !got.RevokedAt.Equal(now.Truncate(time.Millisecond)) {
			t.Fatalf("revoked session %+v", got)
		}

		for _, tok := range []string{"tok-2", "tok-3"} {
			if _, err := s.CreateSession(ctx, NewSession{Token: tok, CSRFToken: "c", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.RevokeUserSessions(ctx, u.ID, now)
		if err != nil || n != 2 {
			t.Fatalf("RevokeUserSessions = %d, %v; want 2", n, err)
		}
		if got, _ := s.GetSession(ctx, "tok-3"); got.Active(now) {
			t.Fatal("session still active after RevokeUserSessions")
		}
	})
}

func TestSessionNeedsTokensAndExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		_, u := newOwner(t, s, "a@example.com")
		for _, n := range []NewSession{
			{CSRFToken: "c", UserID: u.ID, ExpiresAt: time.Now()},
			{Token: "t", UserID: u.ID, ExpiresAt: time.Now()},
			{Token: "t", CSRFToken: "c", UserID: u.ID},
		} {
			if _, err := s.CreateSession(t.Context(), n); err == nil {
				t.Errorf("CreateSession(%+v) succeeded", n)
			}
		}
	})
}

func TestPasswordResetIsUsableOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		_, u := newOwner(t, s, "a@example.com")
		now := time.Now()
		if _, err := s.CreateSession(ctx, NewSession{Token: "s", CSRFToken: "c", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{"reset-1", "reset-2"} {
			if _, err := s.CreatePasswordReset(ctx, NewPasswordReset{Token: tok, UserID: u.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		userID, err := s.ConsumePasswordReset(ctx, "reset-1", "new-hash", now)
		if err != nil || userID != u.ID {
			t.Fatalf("ConsumePasswordReset = %q, %v", userID, err)
		}
		if got, _ := s.GetUser(ctx, u.ID); got.PasswordHash != "new-hash" {
			t.Fatalf("password hash %q after reset", got.PasswordHash)
		}
		if got, _ := s.GetSession(ctx, "s"); got.Active(now) {
			t.Fatal("session survived a password reset")
		}
		_, err = s.ConsumePasswordReset(ctx, "reset-1", "again", now)
		wantErr(t, err, ErrNotFound)
		_, err = s.ConsumePasswordReset(ctx, "reset-2", "other", now) // spent with the first
		wantErr(t, err, ErrNotFound)
		if got, _ := s.GetUser(ctx, u.ID); got.PasswordHash != "new-hash" {
			t.Fatalf("password hash %q after a refused reset", got.PasswordHash)
		}
	})
}

// A link asked for before the password was changed does not work after the change.
func TestPasswordChangeSpendsPendingResets(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		_, u := newOwner(t, s, "a@example.com")
		now := time.Now()
		if _, err := s.CreatePasswordReset(ctx, NewPasswordReset{Token: "old-link", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdatePasswordHash(ctx, u.ID, "changed-hash"); err != nil {
			t.Fatal(err)
		}
		_, err := s.ConsumePasswordReset(ctx, "old-link", "attacker-hash", now)
		wantErr(t, err, ErrNotFound)
		if got, _ := s.GetUser(ctx, u.ID); got.PasswordHash != "changed-hash" {
			t.Fatalf("password hash %q after an old link was used", got.PasswordHash)
		}
		wantErr(t, s.UpdatePasswordHash(ctx, "no-such-user", "h"), ErrNotFound)
	})
}

func TestPasswordResetExpires(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		_, u := newOwner(t, s, "a@example.com")
		now := time.Now()
		if _, err := s.CreatePasswordReset(t.Context(), NewPasswordReset{Token: "r", UserID: u.ID, ExpiresAt: now}); err != nil {
			t.Fatal(err)
		}
		_, err := s.ConsumePasswordReset(t.Context(), "r", "h", now.Add(time.Millisecond))
		wantErr(t, err, ErrNotFound)
		_, err = s.ConsumePasswordReset(t.Context(), "unknown", "h", now)
		wantErr(t, err, ErrNotFound)
	})
}

// TestPasswordResetRace: of many concurrent uses of one token, exactly one wins.
func TestPasswordResetRace(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		_, u := newOwner(t, s, "a@example.com")
		now := time.Now()
		if _, err := s.CreatePasswordReset(t.Context(), NewPasswordReset{Token: "r", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		var wins, losses atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				_, err := s.ConsumePasswordReset(t.Context(), "r", fmt.Sprintf("hash-%d", i), now)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, ErrNotFound):
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

func TestAPIKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, _ := newOwner(t, s, "a@example.com")
		other, _ := newOwner(t, s, "b@example.com")
		t0 := time.Now()
		k1, err := s.CreateAPIKey(ctx, NewAPIKey{AccountID: a.ID, Name: "ci", Prefix: "mk_aaaa", Secret: "s1",
			Scopes: []string{"meetings:read", "meetings:write"}, CreatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		k2, err := s.CreateAPIKey(ctx, NewAPIKey{AccountID: a.ID, Name: "bot", Prefix: "mk_bbbb", Secret: "s2",
			CreatedAt: t0.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if k1.SecretHash != HashToken("s1") || k1.Region != testRegion {
			t.Fatalf("key %+v", k1)
		}
		_, err = s.CreateAPIKey(ctx, NewAPIKey{AccountID: other.ID, Name: "x", Prefix: "mk_aaaa", Secret: "s3"})
		wantErr(t, err, ErrConflict)
		_, err = s.CreateAPIKey(ctx, NewAPIKey{AccountID: a.ID, Name: "x", Prefix: "mk_cccc", Secret: "s", Scopes: []string{"a b"}})
		if err == nil {
			t.Fatal("scope with a space accepted")
		}

		got, err := s.GetAPIKeyByPrefix(ctx, "mk_aaaa")
		if err != nil || got.ID != k1.ID || strings.Join(got.Scopes, " ") != "meetings:read meetings:write" {
			t.Fatalf("GetAPIKeyByPrefix = %+v, %v", got, err)
		}
		keys, err := s.ListAPIKeys(ctx, a.ID)
		if err != nil || len(keys) != 2 || keys[0].ID != k1.ID || keys[1].ID != k2.ID || len(keys[1].Scopes) != 0 {
			t.Fatalf("ListAPIKeys = %+v, %v", keys, err)
		}

		wantErr(t, s.RevokeAPIKey(ctx, other.ID, k1.ID, t0), ErrNotFound) // not that account's key
		if err := s.RevokeAPIKey(ctx, a.ID, k1.ID, t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetAPIKeyByPrefix(ctx, "mk_aaaa"); got.RevokedAt.IsZero() {
			t.Fatal("key not revoked")
		}
		if got, _ := s.GetAPIKeyByPrefix(ctx, "mk_bbbb"); !got.RevokedAt.IsZero() {
			t.Fatal("other key revoked")
		}
	})
}

func testMeeting(a Account, u User, id string) Meeting {
	return Meeting{
		ID: id, AccountID: a.ID, HostUserID: u.ID, Topic: "Weekly", Kind: "scheduled",
		StartsAt:        time.Date(2026, 4, 1, 15, 0, 0, 0, time.UTC),
		DurationMinutes: 45, TimeZone: "Europe/Berlin", Recurrence: "FREQ=WEEKLY;BYDAY=WE",
		Passcode: "k3Xy7PqR2m", JoinTokenHash: HashToken("join"),
		WaitingRoom: true, RequireSignIn: true, Status: MeetingScheduled,
	}
}

func TestMeetings(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, u := newOwner(t, s, "a@example.com")
		m, err := s.CreateMeeting(ctx, testMeeting(a, u, "12345678901"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Region != testRegion || m.CreatedAt.IsZero() {
			t.Fatalf("meeting %+v", m)
		}
		got, err := s.GetMeeting(ctx, m.ID)
		if err != nil || got != m {
			t.Fatalf("GetMeeting = %+v, %v; want %+v", got, err, m)
		}
		_, err = s.CreateMeeting(ctx, testMeeting(a, u, "12345678901"))
		wantErr(t, err, ErrConflict)
		for _, bad := range []string{"1234567890", "1234567890a", ""} {
			if _, err := s.CreateMeeting(ctx, testMeeting(a, u, bad)); err == nil {
				t.Errorf("meeting id %q accepted", bad)
			}
		}
		missing := testMeeting(a, u, "99999999999")
		missing.AccountID = "nobody"
		_, err = s.CreateMeeting(ctx, missing)
		wantErr(t, err, ErrNotFound)

		instant := Meeting{ID: "22222222222", AccountID: a.ID, HostUserID: u.ID, Kind: "instant",
			TimeZone: "UTC", Passcode: "p", JoinTokenHash: "h", Status: MeetingLive,
			CreatedAt: m.CreatedAt.Add(time.Second)}
		if _, err := s.CreateMeeting(ctx, instant); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetMeeting(ctx, instant.ID)
		if !got.StartsAt.IsZero() || got.Recurrence != "" || got.WaitingRoom {
			t.Fatalf("instant meeting %+v", got)
		}
		list, err := s.ListMeetingsByAccount(ctx, a.ID, 0)
		if err != nil || len(list) != 2 || list[0].ID != instant.ID || list[1].ID != m.ID {
			t.Fatalf("ListMeetingsByAccount = %+v, %v", list, err)
		}
		if list, _ := s.ListMeetingsByAccount(ctx, a.ID, 1); len(list) != 1 {
			t.Fatalf("limit 1 gave %d meetings", len(list))
		}
	})
}

func TestMeetingStatusAndLock(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, u := newOwner(t, s, "a@example.com")
		m, err := s.CreateMeeting(ctx, testMeeting(a, u, "12345678901"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		end := start.Add(40 * time.Minute)
		if err := s.UpdateMeetingStatus(ctx, m.ID, MeetingLive, start); err != nil {
			t.Fatal(err)
		}
		if err := s.SetMeetingLocked(ctx, m.ID, true); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetMeeting(ctx, m.ID)
		if got.Status != MeetingLive || !got.Locked || !got.EndedAt.IsZero() || !got.StartedAt.Equal(start.Truncate(time.Millisecond)) {
			t.Fatalf("live meeting %+v", got)
		}
		if err := s.UpdateMeetingStatus(ctx, m.ID, MeetingEnded, end); err != nil {
			t.Fatal(err)
		}
		if err := s.SetMeetingLocked(ctx, m.ID, false); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetMeeting(ctx, m.ID)
		// Ending keeps when it started: the pair is the meeting's last occurrence.
		if got.Status != MeetingEnded || got.Locked || !got.EndedAt.Equal(end.Truncate(time.Millisecond)) ||
			!got.StartedAt.Equal(start.Truncate(time.Millisecond)) {
			t.Fatalf("ended meeting %+v", got)
		}
		if err := s.UpdateMeetingStatus(ctx, m.ID, "paused", end); err == nil {
			t.Fatal("unknown status accepted")
		}
	})
}

func TestRemovals(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, u := newOwner(t, s, "a@example.com")
		m, err := s.CreateMeeting(ctx, testMeeting(a, u, "12345678901"))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // removing twice is fine
			if err := s.AddRemoval(ctx, m.ID, "mallory", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		for who, want := range map[string]bool{"mallory": true, "alice": false} {
			got, err := s.IsRemoved(ctx, m.ID, who)
			if err != nil || got != want {
				t.Errorf("IsRemoved(%s) = %v, %v; want %v", who, got, err, want)
			}
		}
	})
}

func TestAudit(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		entries := []AuditEntry{
			{At: t0, Actor: "u1", Action: "user.sign_in", Subject: "u1", Outcome: "ok"},
			{At: t0.Add(time.Second), Actor: "u1", Action: "meeting.lock", Subject: "12345678901", Outcome: "ok", Detail: "by host"},
			{At: t0.Add(2 * time.Second), Actor: "u2", Action: "user.sign_in", Subject: "u2", Outcome: "denied", Count: 3000},
		}
		for i, e := range entries {
			got, err := s.AppendAudit(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID == "" || got.Region != testRegion || got.Count != max(e.Count, 1) {
				t.Fatalf("entry %+v", got)
			}
			entries[i] = got
		}
		for _, c := range []struct {
			q    AuditQuery
			want []int
		}{
			{AuditQuery{}, []int{0, 1, 2}},
			{AuditQuery{Actor: "u1"}, []int{0, 1}},
			{AuditQuery{Subject: "u2"}, []int{2}},
			{AuditQuery{Actor: "u1", Since: t0.Add(time.Second)}, []int{1}},
			{AuditQuery{Limit: 2}, []int{0, 1}},
		} {
			got, err := s.ListAudit(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("ListAudit(%+v) gave %d entries, want %d", c.q, len(got), len(c.want))
			}
			for i, w := range c.want {
				if got[i] != entries[w] {
					t.Errorf("ListAudit(%+v)[%d] = %+v, want %+v", c.q, i, got[i], entries[w])
				}
			}
		}
	})
}

// The durability test: a child process commits accounts with their owners from several
// goroutines and reports each commit on stdout until the parent kills it with SIGKILL.
const (
	childEnv       = "MERIDIAN_STORE_TEST_CHILD"
	childDirEnv    = "MERIDIAN_STORE_TEST_CHILD_DIR"
	childDSNEnv    = "MERIDIAN_STORE_TEST_CHILD_DSN"
	committedLabel = "committed "
)

// TestDurabilityChild is the child's side; it does nothing unless run by TestDurability.
func TestDurabilityChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		return
	}
	s, err := Open(t.Context(), Config{DataDir: os.Getenv(childDirEnv), PostgresDSN: os.Getenv(childDSNEnv), Region: testRegion})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex // one line per write, whole
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100000 { // bounded, in case no one kills us
				a, _, err := s.CreateAccountWithOwner(context.Background(),
					Account{Type: "business", Name: "Durable", Plan: "free"},
					User{Email: fmt.Sprintf("owner-%d-%d@example.com", w, i), DisplayName: "O", PasswordHash: "h"})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintln(os.Stdout, committedLabel+a.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(4) // never killed: the parent reports it
}

// TestDurability kills a writing process and checks that every commit it reported
// survived and that no account lost its owner half-way.
func TestDurability(t *testing.T) {
	eachConfig(t, func(t *testing.T, cfg Config) {
		reported := runAndKillChild(t, cfg, 30+mrand.IntN(50))
		s := openStore(t, cfg)
		for _, id := range reported {
			if _, err := s.GetAccount(t.Context(), id); err != nil {
				t.Fatalf("account %s was reported committed: %v", id, err)
			}
		}
		orphans := count(t, s, `SELECT COUNT(*) FROM accounts a
			WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.account_id = a.id AND u.role = 'owner')`)
		if orphans != 0 {
			t.Fatalf("%d accounts without an owner: a transaction was half-written", orphans)
		}
		total := count(t, s, "SELECT COUNT(*) FROM accounts")
		t.Logf("child reported %d commits before SIGKILL; %d accounts stored", len(reported), total)
	})
}

// runAndKillChild starts the child on cfg's database, SIGKILLs it once it has reported
// killAfter commits, and returns every id it reported, those still in the pipe included.
func runAndKillChild(t *testing.T, cfg Config, killAfter int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", childDirEnv+"="+cfg.DataDir, childDSNEnv+"="+cfg.PostgresDSN)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	var ids []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), committedLabel)
		if !ok {
			continue
		}
		if ids = append(ids, id); len(ids) == killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL || len(ids) < killAfter {
		t.Fatalf("child ended with %v after %d commits, not killed after %d; stderr:\n%s", err, len(ids), killAfter, stderr.String())
	}
	return ids
}

func TestMeetingCancelledAndPlanChanged(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, u := newOwner(t, s, "a@example.com")
		m, err := s.CreateMeeting(ctx, testMeeting(a, u, "12345678901"))
		if err != nil {
			t.Fatal(err)
		}
		m.Topic, m.Kind, m.StartsAt, m.Recurrence, m.Passcode = "Moved", "instant", time.Time{}, "", ""
		m.DurationMinutes, m.TimeZone, m.WaitingRoom, m.JoinBeforeHost, m.RequireSignIn = 30, "Asia/Tokyo", false, true, false
		if err := s.UpdateMeetingPlan(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetMeeting(ctx, m.ID)
		if got != m {
			t.Fatalf("after UpdateMeetingPlan: %+v, want %+v", got, m)
		}
		at := time.Now()
		if err := s.UpdateMeetingStatus(ctx, m.ID, MeetingCancelled, at); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetMeeting(ctx, m.ID)
		if got.Status != MeetingCancelled || !got.EndedAt.Equal(at.Truncate(time.Millisecond)) {
			t.Fatalf("cancelled meeting %+v", got)
		}
		missing := m
		missing.ID = "99999999999"
		wantErr(t, s.UpdateMeetingPlan(ctx, missing), ErrNotFound)
	})
}

// The migration that allows "cancelled" rebuilds the meetings table: meetings and their
// removals made before it are all there after it.
func TestCancelledMigrationKeepsMeetingsAndRemovals(t *testing.T) {
	eachConfig(t, func(t *testing.T, cfg Config) {
		ctx := t.Context()
		db, dialect, err := openDB(cfg)
		if err != nil {
			t.Fatal(err)
		}
		dir, _ := fs.Sub(migrationFiles, "migrations")
		p, err := goose.NewProvider(dialect, db, dir, goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		// Up to the migration before this one, whatever its number.
		before := int64(-1)
		for _, src := range p.ListSources() {
			if strings.HasSuffix(src.Path, "_meeting_cancelled.sql") {
				break
			}
			before = src.Version
		}
		if before < 0 {
			t.Fatal("no _meeting_cancelled.sql migration")
		}
		if _, err := p.UpTo(ctx, before); err != nil {
			t.Fatal(err)
		}
		old := &Store{db: db, dialect: dialect, region: testRegion}
		a, u := oldOwner(t, old)
		m, err := old.CreateMeeting(ctx, testMeeting(a, u, "12345678901"))
		if err != nil {
			t.Fatal(err)
		}
		if err := old.AddRemoval(ctx, m.ID, "mallory", time.Now()); err != nil {
			t.Fatal(err)
		}
		db.Close()

		s := openStore(t, cfg)
		got, err := s.GetMeeting(ctx, m.ID)
		if err != nil || got != m {
			t.Fatalf("after the migration: %+v, %v; want %+v", got, err, m)
		}
		if removed, err := s.IsRemoved(ctx, m.ID, "mallory"); err != nil || !removed {
			t.Fatalf("the removal is lost in the migration: %v, %v", removed, err)
		}
		if err := s.UpdateMeetingStatus(ctx, m.ID, MeetingCancelled, time.Now()); err != nil {
			t.Fatal(err)
		}
		// The removals still follow their meeting.
		if _, err := s.db.ExecContext(ctx, `DELETE FROM meetings WHERE id = $1`, m.ID); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, `SELECT COUNT(*) FROM meeting_removals`); n != 0 {
			t.Fatalf("%d removals outlive their meeting", n)
		}
	})
}

func TestAccountCountriesAndPolicyListings(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, u, err := s.CreateAccountWithOwner(ctx,
			Account{Type: "individual", Name: "Li Wei", Plan: "free", Country: "CN", BillingCountry: "HK"},
			User{Email: "li@example.com", DisplayName: "Li", PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetAccount(ctx, a.ID)
		if err != nil || got.Country != "CN" || got.BillingCountry != "HK" {
			t.Fatalf("GetAccount: %+v, %v", got, err)
		}
		b, _ := newOwner(t, s, "b@example.com")
		facts, err := s.ListAccountFacts(ctx)
		if err != nil || len(facts) != 2 {
			t.Fatalf("ListAccountFacts: %+v, %v", facts, err)
		}
		for _, f := range facts {
			if f.Name != "" {
				t.Fatalf("a listing for the dry run carries the account's name %q", f.Name)
			}
			if f.ID == a.ID && (f.Country != "CN" || f.BillingCountry != "HK" || f.Plan != "free" || f.Type != "individual") {
				t.Fatalf("facts of %s: %+v", a.ID, f)
			}
		}
		sched := testMeeting(a, u, "12345678901")
		if _, err := s.CreateMeeting(ctx, sched); err != nil {
			t.Fatal(err)
		}
		ended := testMeeting(a, u, "12345678902")
		if _, err := s.CreateMeeting(ctx, ended); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateMeetingStatus(ctx, ended.ID, MeetingEnded, time.Now()); err != nil {
			t.Fatal(err)
		}
		ms, err := s.ListScheduledMeetings(ctx)
		if err != nil || len(ms) != 1 || ms[0].ID != sched.ID || ms[0].AccountID != a.ID || !ms[0].StartsAt.Equal(sched.StartsAt) {
			t.Fatalf("ListScheduledMeetings: %+v, %v (account b %s)", ms, err, b.ID)
		}
	})
}
