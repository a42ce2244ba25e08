// Package store owns the meeting product's persistent data in one region: accounts, users,
// sessions, password resets, API keys, meetings, removals from meetings, the audit log,
// and sales (partners, price books, subscriptions, orders and invoices).
// It owns the schema and its migrations too, one set that runs unchanged on both databases:
// embedded SQLite in the data directory by default, PostgreSQL when a DSN is given.
//
// A Store holds the data of one region only. Every row carries its region; a row for
// another region is refused with ErrWrongRegion, because data at rest never leaves its
// home region (a request for it is forwarded there instead). Rows are plain structs with
// no behaviour beyond small helpers: what they mean is for the account and meeting
// packages to decide.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// DefaultRegion is the region of a store whose Config names none: the one region of a
// single-node install.
const DefaultRegion = "local"

// SQLiteFile is the database file that Open creates in Config.DataDir.
const SQLiteFile = "meridian.db"

// sqliteParams configure every SQLite connection of the pool. WAL lets readers run beside
// the one writer; synchronous=FULL syncs the WAL on every commit, so a commit that returned
// survives a killed process and a lost machine alike; the busy timeout makes a writer wait
// for another instead of failing; _txlock=immediate takes the write lock at BEGIN, so a
// transaction never fails half-way when it upgrades from reading to writing.
const sqliteParams = "?_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1&_busy_timeout=5000&_txlock=immediate"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Config says where the data lives.
type Config struct {
	// DataDir holds the SQLite database file; it is created if missing. Used when
	// PostgresDSN is empty.
	DataDir string
	// PostgresDSN selects PostgreSQL: a URL ("postgres://user@host:5432/db?sslmode=...")
	// or keyword/value form ("host=/var/run/postgresql dbname=meridian"). Any parameter
	// pgx does not know is sent to the server as a setting, so "search_path=x" places the
	// tables in schema x.
	PostgresDSN string
	// Region is the home region of every row this store holds; DefaultRegion if empty.
	Region string
}

// Store is the persistence of one region. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect goose.Dialect
	region  string
}

// Open opens (creating if needed) the database that cfg names and applies every pending
// migration before returning.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	region := cfg.Region
	if region == "" {
		region = DefaultRegion
	}
	db, dialect, err := openDB(cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, dialect: dialect, region: region}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func openDB(cfg Config) (*sql.DB, goose.Dialect, error) {
	if cfg.PostgresDSN != "" {
		db, err := openPostgres(cfg.PostgresDSN)
		return db, goose.DialectPostgres, err
	}
	db, err := openSQLite(cfg.DataDir)
	return db, goose.DialectSQLite3, err
}

func openPostgres(dsn string) (*sql.DB, error) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres dsn: %w", err)
	}
	db := stdlib.OpenDB(*pc)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

func openSQLite(dir string) (*sql.DB, error) {
	if dir == "" {
		return nil, errors.New("store: no data directory and no postgres dsn")
	}
	if strings.ContainsRune(dir, '?') {
		return nil, fmt.Errorf("store: data directory %q: a '?' would end the file name", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: data directory: %w", err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, SQLiteFile)+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	return db, nil
}

// migrate applies the embedded migrations. On PostgreSQL a session advisory lock, keyed by
// the schema, keeps several nodes starting at once from migrating the same schema twice.
func (s *Store) migrate(ctx context.Context) error {
	dir, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if s.dialect == goose.DialectPostgres {
		locker, err := s.postgresLocker(ctx)
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(s.dialect, s.db, dir, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

func (s *Store) postgresLocker(ctx context.Context) (lock.SessionLocker, error) {
	var schema string
	if err := s.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("store: current schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("meridian/store/migrate/" + schema))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(1, 300), // retry every second for five minutes
	)
	if err != nil {
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	return locker, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Region is the home region of the data in this store.
func (s *Store) Region() string { return s.region }

// inTx runs fn in a transaction, committed if fn returns nil and rolled back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // the error from fn is the one that matters
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// regionOf returns the region for a new row: the store's own if r is empty, r if it is the
// store's, and ErrWrongRegion otherwise.
func (s *Store) regionOf(r string) (string, error) {
	switch r {
	case "", s.region:
		return s.region, nil
	}
	return "", fmt.Errorf("%w: row of region %q, store of region %q", ErrWrongRegion, r, s.region)
}
