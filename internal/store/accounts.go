package store

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// Account is a tenant: an individual or a business, with a plan and a sales channel.
type Account struct {
	ID     string // generated if empty
	Region string // the store's region if empty
	// Type is "individual" or "business".
	Type string
	Name string
	// Plan is "free", "pro", "business" or "enterprise".
	Plan string
	// Channel is the sales channel the account belongs to: "direct" if empty, later a
	// partner's or reseller's id.
	Channel   string
	CreatedAt time.Time // now if zero
}

// User is a person who signs in to an account.
type User struct {
	ID        string // generated if empty
	AccountID string // set by CreateAccountWithOwner
	Region    string // the store's region if empty
	// Email is unique in the region regardless of case; the store keeps it lower-cased.
	Email        string
	DisplayName  string
	PasswordHash string
	// Role is "owner", "admin" or "member".
	Role      string
	CreatedAt time.Time // now if zero
}

// NormalizeEmail is the form in which the store keeps and looks up an email address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateAccountWithOwner creates an account and its first user in one transaction: either
// both exist afterwards or neither does. The user's AccountID and Role are set to the new
// account and "owner". It returns both rows as stored.
func (s *Store) CreateAccountWithOwner(ctx context.Context, a Account, owner User) (Account, User, error) {
	a, err := s.newAccount(a)
	if err != nil {
		return Account{}, User{}, fail("create account", err)
	}
	owner.AccountID, owner.Role = a.ID, "owner"
	if owner, err = s.newUser(owner); err != nil {
		return Account{}, User{}, fail("create account", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := insertAccount(ctx, tx, a); err != nil {
			return err
		}
		return insertUser(ctx, tx, owner)
	})
	if err != nil {
		return Account{}, User{}, fail("create account", err)
	}
	return a, owner, nil
}

func (s *Store) newAccount(a Account) (Account, error) {
	region, err := s.regionOf(a.Region)
	if err != nil {
		return Account{}, err
	}
	if a.ID == "" {
		a.ID = newID()
	}
	if a.Channel == "" {
		a.Channel = "direct"
	}
	a.Region, a.CreatedAt = region, stamp(a.CreatedAt)
	return a, nil
}

func (s *Store) newUser(u User) (User, error) {
	region, err := s.regionOf(u.Region)
	if err != nil {
		return User{}, err
	}
	if u.ID == "" {
		u.ID = newID()
	}
	u.Region, u.Email, u.CreatedAt = region, NormalizeEmail(u.Email), stamp(u.CreatedAt)
	return u, nil
}

func insertAccount(ctx context.Context, tx *sql.Tx, a Account) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, region, type, name, plan, channel, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		a.ID, a.Region, a.Type, a.Name, a.Plan, a.Channel, millis(a.CreatedAt))
	return err
}

func insertUser(ctx context.Context, tx *sql.Tx, u User) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO users
		(id, account_id, region, email, display_name, password_hash, role, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.AccountID, u.Region, u.Email, u.DisplayName, u.PasswordHash, u.Role, millis(u.CreatedAt))
	return err
}

// GetAccount returns an account by id.
func (s *Store) GetAccount(ctx context.Context, id string) (Account, error) {
	var a Account
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, region, type, name, plan, channel, created_at
		FROM accounts WHERE id = $1`, id).
		Scan(&a.ID, &a.Region, &a.Type, &a.Name, &a.Plan, &a.Channel, &created)
	if err != nil {
		return Account{}, fail("get account", err)
	}
	a.CreatedAt = fromMillis(created)
	return a, nil
}

const userColumns = `id, account_id, region, email, display_name, password_hash, role, created_at`

func scanUser(row rowScanner) (User, error) {
	var u User
	var created int64
	err := row.Scan(&u.ID, &u.AccountID, &u.Region, &u.Email, &u.DisplayName, &u.PasswordHash, &u.Role, &created)
	u.CreatedAt = fromMillis(created)
	return u, err
}

// GetUser returns a user by id.
func (s *Store) GetUser(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return User{}, fail("get user", err)
	}
	return u, nil
}

// GetUserByEmail returns the user with this email address, in any case.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`,
		NormalizeEmail(email)))
	if err != nil {
		return User{}, fail("get user by email", err) // the address is personal data: not in the error
	}
	return u, nil
}

// UpdatePasswordHash replaces a user's password hash and, in the same transaction, spends
// every pending password-reset link of the user: a link asked for before the change must
// not undo it. It does not end the user's sessions: a caller that should, calls
// RevokeUserSessions too (ConsumePasswordReset does both at once).
func (s *Store) UpdatePasswordHash(ctx context.Context, userID, hash string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
		if err == nil {
			err = affectedOne(res)
		}
		if err != nil {
			return err
		}
		return spendPasswordResets(ctx, tx, userID, stamp(time.Time{}))
	})
	if err != nil {
		return fail("update password", err)
	}
	return nil
}
