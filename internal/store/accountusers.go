package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrInUse: the row is still referred to (a user who hosts meetings) and is not deleted.
var ErrInUse = errors.New("in use")

// AddAccountUser adds a user to an existing account (u.AccountID), with u.Role. An email
// address already taken gives ErrConflict, an account that does not exist ErrNotFound.
func (s *Store) AddAccountUser(ctx context.Context, u User) (User, error) {
	u, err := s.newUser(u)
	if err != nil {
		return User{}, fail("add account user", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error { return insertUser(ctx, tx, u) })
	if err != nil {
		return User{}, fail("add account user", err)
	}
	return u, nil
}

// ListAccountUsers returns an account's users, oldest first.
func (s *Store) ListAccountUsers(ctx context.Context, accountID string) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE account_id = $1
		ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, fail("list account users", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fail("list account users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list account users", err)
	}
	return out, nil
}

// DeleteAccountUser deletes a user of an account, and with it the user's sessions and
// password-reset links. A user of another account gives ErrNotFound; a user who hosts
// meetings ErrInUse (the meetings are the account's, and name their host).
func (s *Store) DeleteAccountUser(ctx context.Context, accountID, userID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE id = $1 AND account_id = $2`, userID, accountID)
	if err == nil {
		err = affectedOne(res)
	}
	if isForeignKeyViolation(err) { // a meeting names the user as its host
		return fmt.Errorf("store: delete account user: %w: %w", ErrInUse, err)
	}
	if err != nil {
		return fail("delete account user", err)
	}
	return nil
}
