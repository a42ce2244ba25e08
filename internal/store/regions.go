package store

import (
	"context"
	"database/sql"
	"time"
)

// AccountRegions are an account's choices of the regions that carry its meetings, each a
// comma-separated list of region ids as topology.AllowedSet.String writes it. The store
// keeps them as given; which apply (under the account's plan and the deployment's region
// list) is package account's decision.
type AccountRegions struct {
	// Allowed are the regions the account chose; empty means its home region alone.
	Allowed string
	// OptedIn are the opt-in regions an owner or admin turned on after the warning.
	OptedIn string
}

// GetAccountRegions returns an account's choices of regions.
func (s *Store) GetAccountRegions(ctx context.Context, accountID string) (AccountRegions, error) {
	var r AccountRegions
	err := s.db.QueryRowContext(ctx, `SELECT allowed_regions, opted_in FROM accounts WHERE id = $1`, accountID).
		Scan(&r.Allowed, &r.OptedIn)
	if err != nil {
		return AccountRegions{}, fail("get account regions", err)
	}
	return r, nil
}

// UpdateAccountRegions replaces an account's choices with after if they are still before
// (as GetAccountRegions returned them), so that the before the caller records in the
// audit log is what was replaced. Otherwise it changes nothing and returns ErrConflict
// (read again and retry); an unknown account is ErrNotFound.
func (s *Store) UpdateAccountRegions(ctx context.Context, accountID string, before, after AccountRegions) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET allowed_regions = $1, opted_in = $2
			WHERE id = $3 AND allowed_regions = $4 AND opted_in = $5`,
			after.Allowed, after.OptedIn, accountID, before.Allowed, before.OptedIn)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = $1`, accountID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return sql.ErrNoRows
		}
		return ErrConflict
	})
	if err != nil {
		return fail("update account regions", err)
	}
	return nil
}

// SetMeetingLive makes a meeting live at a time with the regions allowed to carry it
// (comma-separated): the host account's set, which the meeting keeps until it goes live
// again. It clears EndedAt.
func (s *Store) SetMeetingLive(ctx context.Context, id string, at time.Time, allowed string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE meetings SET status = $1, started_at = $2, ended_at = NULL, allowed_regions = $3
		WHERE id = $4`, MeetingLive, nullMillis(stamp(at)), allowed, id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fail("set meeting live", err)
	}
	return nil
}

// AccountEntry is an account's rule of entry by country: Mode is "off", "allow_list" or
// "block_list" (package account decides what they mean), Countries the list's ISO codes,
// comma-separated.
type AccountEntry struct {
	Mode      string
	Countries string
}

// GetAccountEntry returns an account's rule of entry by country.
func (s *Store) GetAccountEntry(ctx context.Context, accountID string) (AccountEntry, error) {
	var e AccountEntry
	err := s.db.QueryRowContext(ctx, `SELECT entry_mode, entry_countries FROM accounts WHERE id = $1`, accountID).
		Scan(&e.Mode, &e.Countries)
	if err != nil {
		return AccountEntry{}, fail("get account entry", err)
	}
	return e, nil
}

// UpdateAccountEntry replaces an account's rule with after if it is still before, as
// UpdateAccountRegions does: ErrConflict when another change came in between, ErrNotFound
// for an unknown account.
func (s *Store) UpdateAccountEntry(ctx context.Context, accountID string, before, after AccountEntry) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET entry_mode = $1, entry_countries = $2
			WHERE id = $3 AND entry_mode = $4 AND entry_countries = $5`,
			after.Mode, after.Countries, accountID, before.Mode, before.Countries)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = $1`, accountID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return sql.ErrNoRows
		}
		return ErrConflict
	})
	if err != nil {
		return fail("update account entry", err)
	}
	return nil
}
