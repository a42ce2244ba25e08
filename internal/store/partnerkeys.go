package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// PartnerKey lets an OEM partner or reseller act for its own customers through the
// partner API. Like an APIKey, it is a public prefix and a secret; the store keeps the
// prefix and the hash of the secret. It lives in the region of its partner's record.
type PartnerKey struct {
	ID         string
	PartnerID  string
	Region     string
	Name       string
	Prefix     string
	SecretHash string // HashToken of the secret
	Scopes     []string
	// CreatedBy is who made the key (an operator's user id).
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero if never used
	RevokedAt  time.Time // zero while not revoked
}

// NewPartnerKey is what CreatePartnerKey needs.
type NewPartnerKey struct {
	ID        string // generated if empty
	PartnerID string
	Region    string // the store's region if empty
	Name      string
	Prefix    string
	Secret    string // only its hash is stored
	// Scopes are single words (no spaces).
	Scopes    []string
	CreatedBy string
	CreatedAt time.Time // now if zero
}

// CreatePartnerKey stores a partner's key; a prefix already in use gives ErrConflict, a
// partner that does not exist ErrNotFound.
func (s *Store) CreatePartnerKey(ctx context.Context, n NewPartnerKey) (PartnerKey, error) {
	region, err := s.regionOf(n.Region)
	if err != nil {
		return PartnerKey{}, fail("create partner key", err)
	}
	if n.Prefix == "" || n.Secret == "" {
		return PartnerKey{}, fail("create partner key", errNoToken)
	}
	for _, sc := range n.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n") {
			return PartnerKey{}, fail("create partner key", fmt.Errorf("%w: %q", errBadScope, sc))
		}
	}
	if n.ID == "" {
		n.ID = newID()
	}
	k := PartnerKey{ID: n.ID, PartnerID: n.PartnerID, Region: region, Name: n.Name, Prefix: n.Prefix,
		SecretHash: HashToken(n.Secret), Scopes: append([]string(nil), n.Scopes...), CreatedBy: n.CreatedBy,
		CreatedAt: stamp(n.CreatedAt)}
	_, err = s.db.ExecContext(ctx, `INSERT INTO partner_keys
		(id, partner_id, region, name, prefix, secret_hash, scopes, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.PartnerID, k.Region, k.Name, k.Prefix, k.SecretHash, strings.Join(k.Scopes, " "), k.CreatedBy, millis(k.CreatedAt))
	if err != nil {
		return PartnerKey{}, fail("create partner key", err)
	}
	return k, nil
}

const partnerKeyColumns = `id, partner_id, region, name, prefix, secret_hash, scopes, created_by, created_at,
	last_used_at, revoked_at`

func scanPartnerKey(r rowScanner) (PartnerKey, error) {
	var k PartnerKey
	var scopes string
	var created int64
	var used, revoked sql.NullInt64
	err := r.Scan(&k.ID, &k.PartnerID, &k.Region, &k.Name, &k.Prefix, &k.SecretHash, &scopes, &k.CreatedBy, &created,
		&used, &revoked)
	k.Scopes = strings.Fields(scopes)
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromMillis(created), fromNullMillis(used), fromNullMillis(revoked)
	return k, err
}

// ListPartnerKeys returns a partner's keys, revoked ones included, oldest first.
func (s *Store) ListPartnerKeys(ctx context.Context, partnerID string) ([]PartnerKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+partnerKeyColumns+` FROM partner_keys
		WHERE partner_id = $1 ORDER BY created_at, id`, partnerID)
	if err != nil {
		return nil, fail("list partner keys", err)
	}
	defer rows.Close()
	var keys []PartnerKey
	for rows.Next() {
		k, err := scanPartnerKey(rows)
		if err != nil {
			return nil, fail("list partner keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list partner keys", err)
	}
	return keys, nil
}

// GetPartnerKeyByPrefix returns the partner key with this prefix, revoked or not. The
// caller compares HashToken of the presented secret with SecretHash in constant time.
func (s *Store) GetPartnerKeyByPrefix(ctx context.Context, prefix string) (PartnerKey, error) {
	k, err := scanPartnerKey(s.db.QueryRowContext(ctx, `SELECT `+partnerKeyColumns+` FROM partner_keys WHERE prefix = $1`, prefix))
	if err != nil {
		return PartnerKey{}, fail("get partner key", err)
	}
	return k, nil
}

// RevokePartnerKey revokes a partner's key. A key of another partner gives ErrNotFound;
// revoking again is not an error and keeps the first time.
func (s *Store) RevokePartnerKey(ctx context.Context, partnerID, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE partner_keys SET revoked_at = COALESCE(revoked_at, $1)
		WHERE id = $2 AND partner_id = $3`, millis(stamp(at)), id, partnerID)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fail("revoke partner key", err)
	}
	return nil
}

// TouchPartnerKey records that a key was used at at; a later use already recorded stays.
func (s *Store) TouchPartnerKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE partner_keys SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`, millis(stamp(at)), id)
	if err != nil {
		return fail("touch partner key", err)
	}
	return nil
}
