package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// APIKey lets a program act for an account. A key as given to its owner is a public
// prefix and a secret; the store keeps the prefix (to find the key and to show it in
// lists) and the hash of the secret.
type APIKey struct {
	ID         string
	AccountID  string
	Region     string
	Name       string
	Prefix     string
	SecretHash string // HashToken of the secret
	Scopes     []string
	// CreatedBy is the user who made the key (through a session, or through a key they
	// made); empty for keys from before it was recorded.
	CreatedBy string
	CreatedAt time.Time
	RevokedAt time.Time // zero while not revoked
}

// NewAPIKey is what CreateAPIKey needs.
type NewAPIKey struct {
	ID        string // generated if empty
	AccountID string
	Region    string // the store's region if empty
	Name      string
	Prefix    string
	Secret    string // only its hash is stored
	// Scopes are single words (no spaces).
	Scopes    []string
	CreatedBy string    // the user who made the key
	CreatedAt time.Time // now if zero
}

var errBadScope = errors.New("a scope must be a non-empty word without spaces")

// CreateAPIKey stores an API key; a prefix already in use gives ErrConflict.
func (s *Store) CreateAPIKey(ctx context.Context, n NewAPIKey) (APIKey, error) {
	k, err := s.newAPIKey(n)
	if err != nil {
		return APIKey{}, fail("create api key", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO api_keys
		(id, account_id, region, name, prefix, secret_hash, scopes, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.AccountID, k.Region, k.Name, k.Prefix, k.SecretHash, strings.Join(k.Scopes, " "), k.CreatedBy, millis(k.CreatedAt))
	if err != nil {
		return APIKey{}, fail("create api key", err)
	}
	return k, nil
}

func (s *Store) newAPIKey(n NewAPIKey) (APIKey, error) {
	region, err := s.regionOf(n.Region)
	switch {
	case err != nil:
		return APIKey{}, err
	case n.Prefix == "" || n.Secret == "":
		return APIKey{}, errNoToken
	}
	for _, sc := range n.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n") {
			return APIKey{}, fmt.Errorf("%w: %q", errBadScope, sc)
		}
	}
	if n.ID == "" {
		n.ID = newID()
	}
	return APIKey{
		ID: n.ID, AccountID: n.AccountID, Region: region, Name: n.Name, Prefix: n.Prefix,
		SecretHash: HashToken(n.Secret), Scopes: append([]string(nil), n.Scopes...),
		CreatedBy: n.CreatedBy, CreatedAt: stamp(n.CreatedAt),
	}, nil
}

const apiKeyColumns = `id, account_id, region, name, prefix, secret_hash, scopes, created_by, created_at, revoked_at`

func scanAPIKey(r rowScanner) (APIKey, error) {
	var k APIKey
	var scopes string
	var created int64
	var revoked sql.NullInt64
	err := r.Scan(&k.ID, &k.AccountID, &k.Region, &k.Name, &k.Prefix, &k.SecretHash, &scopes, &k.CreatedBy, &created, &revoked)
	k.Scopes = strings.Fields(scopes)
	k.CreatedAt, k.RevokedAt = fromMillis(created), fromNullMillis(revoked)
	return k, err
}

// ListAPIKeys returns an account's keys, revoked ones included, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, accountID string) ([]APIKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE account_id = $1 ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, fail("list api keys", err)
	}
	defer rows.Close()
	var keys []APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fail("list api keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list api keys", err)
	}
	return keys, nil
}

// GetAPIKeyByPrefix returns the key with this prefix, revoked or not. The caller compares
// HashToken of the presented secret with SecretHash in constant time.
func (s *Store) GetAPIKeyByPrefix(ctx context.Context, prefix string) (APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE prefix = $1`, prefix))
	if err != nil {
		return APIKey{}, fail("get api key", err)
	}
	return k, nil
}

// RevokeAPIKey revokes an account's key. A key of another account gives ErrNotFound;
// revoking again is not an error and keeps the first time.
func (s *Store) RevokeAPIKey(ctx context.Context, accountID, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1)
		WHERE id = $2 AND account_id = $3`, millis(stamp(at)), id, accountID)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fail("revoke api key", err)
	}
	return nil
}
