package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"time"
)

// rowScanner is what *sql.Row and *sql.Rows share.
type rowScanner interface {
	Scan(dest ...any) error
}

// execer is what *sql.DB and *sql.Tx share.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// HashToken returns the hex SHA-256 of a secret token. Session, CSRF, password-reset, join
// and API-key secrets are random with at least 128 bits, so a fast hash is enough to make
// a stolen database useless for logging in; passwords are another matter (argon2id, in
// package account).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newID returns a random 128-bit id in base32 (26 characters).
func newID() string { return rand.Text() }

// millis is how times are stored: unix milliseconds, UTC.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis is the inverse of millis.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nullMillis stores the zero time as NULL.
func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: millis(t), Valid: true}
}

// fromNullMillis reads NULL as the zero time.
func fromNullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMillis(n.Int64)
}

// stamp is a time as the store will give it back: UTC, whole milliseconds; now if zero.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return fromMillis(millis(t))
}

// trunc is a possibly-zero time as the store will give it back.
func trunc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return fromMillis(millis(t))
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}
