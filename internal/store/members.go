package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Invite is an invitation of an email address into an account with a role. Its token is
// not stored, only its hash.
type Invite struct {
	ID        string
	AccountID string
	Region    string
	Email     string // lower-cased
	// Role is "admin" or "member": ownership is never invited, it is transferred.
	Role      string
	TokenHash string // HashToken of the token in the link
	// InvitedBy is who invited (a user id, "apikey:<id>").
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt time.Time // zero until accepted
	AcceptedBy string    // the user the invite became; empty until accepted
	RevokedAt  time.Time // zero unless withdrawn or replaced by a newer invite
}

// Pending tells whether the invite can still be accepted at now.
func (i Invite) Pending(now time.Time) bool {
	return i.AcceptedAt.IsZero() && i.RevokedAt.IsZero() && now.Before(i.ExpiresAt)
}

// NewInvite is what CreateInvite needs.
type NewInvite struct {
	Token     string // the secret in the link; only its hash is stored
	AccountID string
	Region    string // the store's region if empty
	Email     string
	Role      string
	InvitedBy string
	CreatedAt time.Time // now if zero
	ExpiresAt time.Time
}

// CreateInvite stores an invitation. In the same transaction it withdraws the account's
// earlier invite of the same address that was neither accepted nor withdrawn, so that an
// address has one live link per account; it returns how many it withdrew (0 or 1).
func (s *Store) CreateInvite(ctx context.Context, n NewInvite) (Invite, int64, error) {
	region, err := s.regionOf(n.Region)
	switch {
	case err != nil:
		return Invite{}, 0, fail("create invite", err)
	case n.Token == "":
		return Invite{}, 0, fail("create invite", errNoToken)
	case n.ExpiresAt.IsZero():
		return Invite{}, 0, fail("create invite", errNoExpiry)
	}
	inv := Invite{
		ID: newID(), AccountID: n.AccountID, Region: region, Email: NormalizeEmail(n.Email), Role: n.Role,
		TokenHash: HashToken(n.Token), InvitedBy: n.InvitedBy, CreatedAt: stamp(n.CreatedAt), ExpiresAt: trunc(n.ExpiresAt),
	}
	var replaced int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE member_invites SET revoked_at = $1
			WHERE account_id = $2 AND email = $3 AND accepted_at IS NULL AND revoked_at IS NULL`,
			millis(inv.CreatedAt), inv.AccountID, inv.Email)
		if err != nil {
			return err
		}
		if replaced, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO member_invites
			(id, account_id, region, email, role, token_hash, invited_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			inv.ID, inv.AccountID, inv.Region, inv.Email, inv.Role, inv.TokenHash, inv.InvitedBy,
			millis(inv.CreatedAt), millis(inv.ExpiresAt))
		return err
	})
	if err != nil {
		return Invite{}, 0, fail("create invite", err) // the address is personal data: not in the error
	}
	return inv, replaced, nil
}

const inviteColumns = `id, account_id, region, email, role, token_hash, invited_by, created_at, expires_at,
	accepted_at, accepted_by, revoked_at`

func scanInvite(r rowScanner) (Invite, error) {
	var i Invite
	var created, expires int64
	var accepted, revoked sql.NullInt64
	err := r.Scan(&i.ID, &i.AccountID, &i.Region, &i.Email, &i.Role, &i.TokenHash, &i.InvitedBy, &created, &expires,
		&accepted, &i.AcceptedBy, &revoked)
	i.CreatedAt, i.ExpiresAt = fromMillis(created), fromMillis(expires)
	i.AcceptedAt, i.RevokedAt = fromNullMillis(accepted), fromNullMillis(revoked)
	return i, err
}

// GetInviteByToken returns the invite whose token this is, in whatever state: see
// Invite.Pending.
func (s *Store) GetInviteByToken(ctx context.Context, token string) (Invite, error) {
	i, err := scanInvite(s.db.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM member_invites WHERE token_hash = $1`,
		HashToken(token)))
	if err != nil {
		return Invite{}, fail("get invite", err)
	}
	return i, nil
}

// ListOpenInvites returns an account's invites that were neither accepted nor withdrawn,
// expired ones included, oldest first.
func (s *Store) ListOpenInvites(ctx context.Context, accountID string) ([]Invite, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+inviteColumns+` FROM member_invites
		WHERE account_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, fail("list invites", err)
	}
	defer rows.Close()
	var out []Invite
	for rows.Next() {
		i, err := scanInvite(rows)
		if err != nil {
			return nil, fail("list invites", err)
		}
		out = append(out, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list invites", err)
	}
	return out, nil
}

// RevokeInvite withdraws an account's open invite and returns it as it was. An invite of
// another account, or one already accepted or withdrawn, gives ErrNotFound.
func (s *Store) RevokeInvite(ctx context.Context, accountID, id string, at time.Time) (Invite, error) {
	var inv Invite
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		inv, err = scanInvite(tx.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM member_invites
			WHERE id = $1 AND account_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL`, id, accountID))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE member_invites SET revoked_at = $1 WHERE id = $2`, millis(stamp(at)), id)
		return err
	})
	if err != nil {
		return Invite{}, fail("revoke invite", err)
	}
	return inv, nil
}

// AcceptInvite uses an invite's token at now, once: in one transaction it marks the
// invite accepted and creates u as a user of the invite's account, with the invite's
// address and role (u's own AccountID, Email and Role are ignored). A token that is
// unknown, used, withdrawn or expired gives ErrNotFound, all alike; an address that
// already has a user gives ErrConflict and leaves the invite as it was. Of two
// concurrent calls with one token, exactly one succeeds.
func (s *Store) AcceptInvite(ctx context.Context, token string, u User, now time.Time) (User, Invite, error) {
	now = stamp(now)
	u, err := s.newUser(u)
	if err != nil {
		return User{}, Invite{}, fail("accept invite", err)
	}
	var inv Invite
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		inv, err = scanInvite(tx.QueryRowContext(ctx, `UPDATE member_invites SET accepted_at = $1, accepted_by = $2
			WHERE token_hash = $3 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1
			RETURNING `+inviteColumns, millis(now), u.ID, HashToken(token)))
		if err != nil {
			return err
		}
		u.AccountID, u.Email, u.Role = inv.AccountID, inv.Email, inv.Role
		return insertUser(ctx, tx, u)
	})
	if err != nil {
		return User{}, Invite{}, fail("accept invite", err)
	}
	return u, inv, nil
}

// ListUsers returns an account's users: its owner first, then the others oldest first.
func (s *Store) ListUsers(ctx context.Context, accountID string) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE account_id = $1
		ORDER BY CASE role WHEN 'owner' THEN 0 ELSE 1 END, created_at, id`, accountID)
	if err != nil {
		return nil, fail("list users", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fail("list users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list users", err)
	}
	return out, nil
}

// CountMembers returns how many users an account has and how many of its invites are
// pending at now: the seats it holds and has promised.
func (s *Store) CountMembers(ctx context.Context, accountID string, now time.Time) (users, pending int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM users WHERE account_id = $1),
		(SELECT COUNT(*) FROM member_invites WHERE account_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
			AND expires_at > $2)`, accountID, millis(now)).Scan(&users, &pending)
	if err != nil {
		return 0, 0, fail("count members", err)
	}
	return users, pending, nil
}

// errOwnerRole refuses, in the store, a change that would leave an account without its
// owner or give it two; the account service decides before and never gets it.
var errOwnerRole = errors.New("the owner's role changes only by a transfer of ownership")

// SetUserRole changes the role of a user of the account, who is not its owner, to role
// ("admin" or "member"), and returns the role it had. A user of another account (or
// none) gives ErrNotFound; the owner, or role "owner", ErrConflict.
func (s *Store) SetUserRole(ctx context.Context, accountID, userID, role string) (string, error) {
	if role == "owner" {
		return "", fail("set user role", errors.Join(ErrConflict, errOwnerRole))
	}
	var before string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT role FROM users WHERE id = $1 AND account_id = $2`, userID, accountID).
			Scan(&before); err != nil {
			return err
		}
		if before == "owner" {
			return errors.Join(ErrConflict, errOwnerRole)
		}
		_, err := tx.ExecContext(ctx, `UPDATE users SET role = $1 WHERE id = $2`, role, userID)
		return err
	})
	if err != nil {
		return "", fail("set user role", err)
	}
	return before, nil
}

// Removal is what RemoveUser did besides removing the user.
type Removal struct {
	User            User  // the user as it was
	SessionsEnded   int64 // the user's sessions still active
	KeysRevoked     int64 // the account's active API keys the user made
	MeetingsHandled int64 // meetings the user hosted, now hosted by the account's owner
}

// RemoveUser removes a user, who is not its owner, from the account, in one transaction:
// the user's sessions and password-reset links go with it, the API keys the user made
// are revoked at at, and the meetings the user hosted pass to the account's owner (the
// meetings are the account's). A user of another account gives ErrNotFound; the owner
// ErrConflict.
func (s *Store) RemoveUser(ctx context.Context, accountID, userID string, at time.Time) (Removal, error) {
	at = stamp(at)
	var r Removal
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if r.User, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 AND account_id = $2`,
			userID, accountID)); err != nil {
			return err
		}
		if r.User.Role == "owner" {
			return errors.Join(ErrConflict, errOwnerRole)
		}
		var owner string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE account_id = $1 AND role = 'owner'`, accountID).
			Scan(&owner); err != nil {
			return err
		}
		steps := []struct {
			n     *int64
			query string
			args  []any
		}{
			{&r.SessionsEnded, `DELETE FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2`,
				[]any{userID, millis(at)}},
			{nil, `DELETE FROM sessions WHERE user_id = $1`, []any{userID}},
			{nil, `DELETE FROM password_resets WHERE user_id = $1`, []any{userID}},
			{&r.KeysRevoked, `UPDATE api_keys SET revoked_at = $1 WHERE account_id = $2 AND created_by = $3 AND revoked_at IS NULL`,
				[]any{millis(at), accountID, userID}},
			{&r.MeetingsHandled, `UPDATE meetings SET host_user_id = $1 WHERE host_user_id = $2`, []any{owner, userID}},
			{nil, `DELETE FROM users WHERE id = $1`, []any{userID}},
		}
		for _, st := range steps {
			res, err := tx.ExecContext(ctx, st.query, st.args...)
			if err != nil {
				return err
			}
			if st.n != nil {
				if *st.n, err = res.RowsAffected(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return Removal{}, fail("remove user", err)
	}
	r.User.PasswordHash = ""
	return r, nil
}

// TransferOwnership makes user to, of the account and not its owner, the account's owner,
// and its owner from an admin, in one transaction; it returns to's role before. from
// must be the owner: otherwise (or when to is not a user of the account) ErrNotFound.
func (s *Store) TransferOwnership(ctx context.Context, accountID, from, to string) (string, error) {
	var before string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT role FROM users WHERE id = $1 AND account_id = $2 AND role <> 'owner'`,
			to, accountID).Scan(&before); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET role = 'admin' WHERE id = $1 AND account_id = $2 AND role = 'owner'`,
			from, accountID)
		if err == nil {
			err = affectedOne(res)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET role = 'owner' WHERE id = $1`, to)
		return err
	})
	if err != nil {
		return "", fail("transfer ownership", err)
	}
	return before, nil
}
