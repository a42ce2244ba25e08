package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Session is a signed-in browser. Neither of its tokens is stored, only their hashes.
type Session struct {
	// ID is HashToken of the session token (the browser's cookie).
	ID     string
	UserID string
	Region string
	// CSRFTokenHash is HashToken of the session's CSRF token.
	CSRFTokenHash string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	RevokedAt     time.Time // zero while not revoked
}

// Active reports whether the session may still be used at now.
func (s Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// NewSession is what CreateSession needs. The tokens are the secrets handed to the
// browser; the store keeps only their hashes.
type NewSession struct {
	Token     string
	CSRFToken string
	UserID    string
	Region    string    // the store's region if empty
	CreatedAt time.Time // now if zero
	ExpiresAt time.Time
}

var errNoExpiry = errors.New("an expiry time is required")
var errNoToken = errors.New("a token is required")

// CreateSession stores a session and returns it as stored.
func (s *Store) CreateSession(ctx context.Context, n NewSession) (Session, error) {
	sess, err := s.newSession(n)
	if err != nil {
		return Session{}, fail("create session", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO sessions
		(id, user_id, region, created_at, expires_at, csrf_token_hash) VALUES ($1, $2, $3, $4, $5, $6)`,
		sess.ID, sess.UserID, sess.Region, millis(sess.CreatedAt), millis(sess.ExpiresAt), sess.CSRFTokenHash)
	if err != nil {
		return Session{}, fail("create session", err)
	}
	return sess, nil
}

func (s *Store) newSession(n NewSession) (Session, error) {
	region, err := s.regionOf(n.Region)
	switch {
	case err != nil:
		return Session{}, err
	case n.Token == "" || n.CSRFToken == "":
		return Session{}, errNoToken
	case n.ExpiresAt.IsZero():
		return Session{}, errNoExpiry
	}
	return Session{
		ID: HashToken(n.Token), UserID: n.UserID, Region: region,
		CSRFTokenHash: HashToken(n.CSRFToken),
		CreatedAt:     stamp(n.CreatedAt), ExpiresAt: trunc(n.ExpiresAt),
	}, nil
}

// GetSession returns the session whose token this is, whether active or not: see
// Session.Active.
func (s *Store) GetSession(ctx context.Context, token string) (Session, error) {
	var sess Session
	var created, expires int64
	var revoked sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT id, user_id, region, csrf_token_hash, created_at, expires_at, revoked_at
		FROM sessions WHERE id = $1`, HashToken(token)).
		Scan(&sess.ID, &sess.UserID, &sess.Region, &sess.CSRFTokenHash, &created, &expires, &revoked)
	if err != nil {
		return Session{}, fail("get session", err)
	}
	sess.CreatedAt, sess.ExpiresAt, sess.RevokedAt = fromMillis(created), fromMillis(expires), fromNullMillis(revoked)
	return sess, nil
}

// RevokeSession ends the session whose token this is (signing out). Revoking it again is
// not an error and keeps the first time.
func (s *Store) RevokeSession(ctx context.Context, token string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`,
		millis(stamp(at)), HashToken(token))
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fail("revoke session", err)
	}
	return nil
}

// RevokeUserSessions ends every active session of a user and returns how many it ended.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int64, error) {
	n, err := revokeUserSessions(ctx, s.db, userID, at)
	if err != nil {
		return 0, fail("revoke user sessions", err)
	}
	return n, nil
}

func revokeUserSessions(ctx context.Context, db execer, userID string, at time.Time) (int64, error) {
	res, err := db.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL`,
		millis(stamp(at)), userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PasswordReset is a pending or used password-reset link. Its token is not stored.
type PasswordReset struct {
	TokenHash string // HashToken of the token in the link
	UserID    string
	Region    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
}

// NewPasswordReset is what CreatePasswordReset needs.
type NewPasswordReset struct {
	Token     string // the secret in the link; only its hash is stored
	UserID    string
	Region    string    // the store's region if empty
	CreatedAt time.Time // now if zero
	ExpiresAt time.Time
}

// CreatePasswordReset stores a password-reset token for a user.
func (s *Store) CreatePasswordReset(ctx context.Context, n NewPasswordReset) (PasswordReset, error) {
	pr, err := s.newPasswordReset(n)
	if err != nil {
		return PasswordReset{}, fail("create password reset", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO password_resets (token_hash, user_id, region, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`,
		pr.TokenHash, pr.UserID, pr.Region, millis(pr.CreatedAt), millis(pr.ExpiresAt))
	if err != nil {
		return PasswordReset{}, fail("create password reset", err)
	}
	return pr, nil
}

func (s *Store) newPasswordReset(n NewPasswordReset) (PasswordReset, error) {
	region, err := s.regionOf(n.Region)
	switch {
	case err != nil:
		return PasswordReset{}, err
	case n.Token == "":
		return PasswordReset{}, errNoToken
	case n.ExpiresAt.IsZero():
		return PasswordReset{}, errNoExpiry
	}
	return PasswordReset{
		TokenHash: HashToken(n.Token), UserID: n.UserID, Region: region,
		CreatedAt: stamp(n.CreatedAt), ExpiresAt: trunc(n.ExpiresAt),
	}, nil
}

// ConsumePasswordReset uses a password-reset token at now, once: in one transaction it
// marks the token (and every other pending token of the user) used, sets the user's new
// password hash and revokes the user's sessions. A token that is unknown, already used or
// expired gives ErrNotFound, the three alike; of two concurrent calls with one token,
// exactly one succeeds. It returns the user's id.
func (s *Store) ConsumePasswordReset(ctx context.Context, token, newPasswordHash string, now time.Time) (string, error) {
	now = stamp(now)
	var userID string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE password_resets SET used_at = $1
			WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id`,
			millis(now), HashToken(token)).Scan(&userID)
		if err != nil {
			return err
		}
		return resetPassword(ctx, tx, userID, newPasswordHash, now)
	})
	if err != nil {
		return "", fail("consume password reset", err)
	}
	return userID, nil
}

func resetPassword(ctx context.Context, tx *sql.Tx, userID, hash string, now time.Time) error {
	if err := spendPasswordResets(ctx, tx, userID, now); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return err
	}
	_, err = revokeUserSessions(ctx, tx, userID, now)
	return err
}

// spendPasswordResets marks every pending reset link of a user used at now.
func spendPasswordResets(ctx context.Context, tx *sql.Tx, userID string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL`,
		millis(now), userID)
	return err
}
