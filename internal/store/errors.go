package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors that callers act on. Every error the store returns is wrapped with what it was
// doing; test with errors.Is.
var (
	// ErrNotFound: no such row, or a row it refers to (an account, a user, a meeting)
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (an id, an email, an API key prefix) is already taken.
	ErrConflict = errors.New("conflict")
	// ErrWrongRegion: the row belongs to another region than this store's.
	ErrWrongRegion = errors.New("wrong region")
)

// Constraint violations, as PostgreSQL's SQLSTATE and SQLite's extended result codes.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// fail wraps err with the operation, mapping driver errors onto ErrNotFound and
// ErrConflict while keeping the driver's own error in the chain.
func fail(op string, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("store: %s: %w: %w", op, ErrConflict, err)
	case isForeignKeyViolation(err):
		return fmt.Errorf("store: %s: referenced row %w: %w", op, ErrNotFound, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

func isUniqueViolation(err error) bool {
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) {
		return pe.Code == pgUniqueViolation
	}
	if se := (*sqlite.Error)(nil); errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func isForeignKeyViolation(err error) bool {
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) {
		return pe.Code == pgForeignKeyViolation
	}
	if se := (*sqlite.Error)(nil); errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// affectedOne turns an UPDATE that matched no row into ErrNotFound.
func affectedOne(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return sql.ErrNoRows
	}
	return nil
}
