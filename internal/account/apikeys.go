package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/store"
)

// API key scopes: what a key may do. A signed-in owner or admin may do all of it.
const (
	ScopeAccountRead   = "account:read"   // GET /api/me
	ScopeKeysRead      = "keys:read"      // list the account's keys
	ScopeKeysWrite     = "keys:write"     // create and revoke keys (never with more scopes than its own)
	ScopeMeetingsRead  = "meetings:read"  // read the account's meetings
	ScopeMeetingsWrite = "meetings:write" // create, change and end the account's meetings
	ScopeBillingRead   = "billing:read"   // read the account's price book, subscription and invoices
	ScopeBillingWrite  = "billing:write"  // check out (buy, upgrade, renew) for the account
	ScopeMembersRead   = "members:read"   // list the account's members and pending invitations
	// ScopeMembersWrite: invite, withdraw invitations, change roles and remove members, as
	// an admin may (never ownership: its transfer takes the owner's password).
	ScopeMembersWrite = "members:write"
)

// Scopes lists every scope a key may carry.
var Scopes = []string{ScopeAccountRead, ScopeKeysRead, ScopeKeysWrite, ScopeMeetingsRead, ScopeMeetingsWrite,
	ScopeBillingRead, ScopeBillingWrite, ScopeMembersRead, ScopeMembersWrite}

// MaxActiveAPIKeys bounds the unrevoked keys of one account.
const MaxActiveAPIKeys = 100

// API key format: "mk_" + a public prefix + "_" + a secret. The prefix finds the key and
// names it in lists; only the secret's hash is stored.
const (
	apiKeyTag       = "mk_"
	apiKeyPrefixLen = 12 // base32 characters: 60 bits, unique enough to index by
	apiKeySecretLen = 26 // base32 characters: 130 bits
)

// APIKey is a key as it may be shown again after its creation: never its secret.
type APIKey struct {
	ID     string
	Name   string
	Prefix string
	Scopes []string
	// CreatedBy is the user who made the key, directly or through a key they made
	// (empty for keys from before it was recorded); removing the user revokes it.
	CreatedBy string
	CreatedAt time.Time
	RevokedAt time.Time // zero while the key works
}

// Revoked tells whether the key has been revoked.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

func keyView(k store.APIKey) APIKey {
	return APIKey{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: slices.Clone(k.Scopes),
		CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

// mayManageKeys decides whether p may read (write false) or create and revoke (write true)
// the account's API keys: an owner or admin may; a member may not; a key needs the scope.
func mayManageKeys(p Principal, write bool) *Error {
	if p.ViaAPIKey() {
		scope := ScopeKeysRead
		if write {
			scope = ScopeKeysWrite
		}
		if !p.Allows(scope) {
			return forbidden("this API key lacks the scope " + scope)
		}
		return nil
	}
	switch p.User.Role {
	case RoleOwner, RoleAdmin:
		return nil
	}
	return forbidden("only an account's owner or admins may manage its API keys")
}

// CreateAPIKey creates a key for p's account and returns it with its secret, the whole
// key to present ("mk_<prefix>_<secret>"). The secret is not stored and cannot be shown
// again. A key creating a key cannot grant a scope it lacks itself.
func (s *Service) CreateAPIKey(ctx context.Context, p Principal, name string, scopes []string) (APIKey, string, error) {
	if denied := mayManageKeys(p, true); denied != nil {
		s.audit(ctx, p.Actor(), "api_key.create", p.Account.ID, "denied", denied.Message)
		return APIKey{}, "", denied
	}
	name, err := checkName("key name", name)
	if err != nil {
		return APIKey{}, "", err
	}
	scopes, err = checkScopes(scopes)
	if err != nil {
		return APIKey{}, "", err
	}
	if p.ViaAPIKey() {
		for _, sc := range scopes {
			if !p.Allows(sc) {
				err := forbidden("an API key cannot grant the scope " + sc + ", which it lacks")
				s.audit(ctx, p.Actor(), "api_key.create", p.Account.ID, "denied", err.Message)
				return APIKey{}, "", err
			}
		}
	}
	existing, err := s.store.ListAPIKeys(ctx, p.Account.ID)
	if err != nil {
		return APIKey{}, "", err
	}
	if active := activeKeys(existing, func(k store.APIKey) time.Time { return k.RevokedAt }); active >= MaxActiveAPIKeys {
		return APIKey{}, "", invalid(fmt.Sprintf("the account has %d API keys, the most it may have; revoke one first", active))
	}
	k, prefix, secret, err := mintKey(ctx, s, CredentialAPIKey, func(prefix, secret string) (store.APIKey, error) {
		return s.store.CreateAPIKey(ctx, store.NewAPIKey{
			AccountID: p.Account.ID, Name: name, Prefix: prefix, Secret: secret, Scopes: scopes, CreatedBy: p.person(),
			CreatedAt: s.now(),
		})
	})
	if err != nil {
		return APIKey{}, "", err
	}
	s.audit(ctx, p.Actor(), "api_key.create", k.ID, "ok",
		fmt.Sprintf("account=%s prefix=%s scopes=%s", p.Account.ID, k.Prefix, strings.Join(k.Scopes, ",")))
	return keyView(k), apiKeyTag + prefix + "_" + secret, nil
}

// activeKeys counts the keys not revoked.
func activeKeys[K any](keys []K, revokedAt func(K) time.Time) int {
	n := 0
	for _, k := range keys {
		if revokedAt(k).IsZero() {
			n++
		}
	}
	return n
}

// mintKey draws a key's public prefix and secret, records the prefix's home (a credential
// of kind) and stores the key with create; a prefix collision (60 bits: all but
// impossible) draws again.
func mintKey[K any](ctx context.Context, s *Service, kind Credential, create func(prefix, secret string) (K, error)) (k K, prefix, secret string, err error) {
	for range 3 {
		prefix, secret = randomKeyPart(apiKeyPrefixLen), randomKeyPart(apiKeySecretLen)
		if err = s.addCredential(ctx, kind, prefix); err != nil {
			return k, "", "", err
		}
		k, err = create(prefix, secret)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return k, prefix, secret, err
	}
	return k, "", "", fmt.Errorf("account: no free %s prefix after 3 draws", kind)
}

// ListAPIKeys returns the keys of p's account, revoked ones included, without secrets.
func (s *Service) ListAPIKeys(ctx context.Context, p Principal) ([]APIKey, error) {
	if denied := mayManageKeys(p, false); denied != nil {
		return nil, denied
	}
	keys, err := s.store.ListAPIKeys(ctx, p.Account.ID)
	if err != nil {
		return nil, err
	}
	out := make([]APIKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyView(k))
	}
	return out, nil
}

// RevokeAPIKey revokes a key of p's account at once; a key of another account is
// ErrNotFound. Revoking a revoked key again is not an error.
func (s *Service) RevokeAPIKey(ctx context.Context, p Principal, id string) error {
	if denied := mayManageKeys(p, true); denied != nil {
		s.audit(ctx, p.Actor(), "api_key.revoke", id, "denied", denied.Message)
		return denied
	}
	if id == "" || len(id) > maxTokenLength {
		return ErrNotFound
	}
	err := s.store.RevokeAPIKey(ctx, p.Account.ID, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	s.audit(ctx, p.Actor(), "api_key.revoke", id, "ok", "account="+p.Account.ID)
	return nil
}

// AuthenticateAPIKey returns the principal of a whole key ("mk_<prefix>_<secret>"), or
// ErrUnauthenticated when it is malformed, unknown, wrong or revoked (alike). The secret's
// hash is compared in constant time.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string) (Principal, error) {
	prefix, secret, ok := parseAPIKey(key)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	k, err := s.store.GetAPIKeyByPrefix(ctx, prefix)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(store.HashToken(secret)), []byte(k.SecretHash)) != 1 || !k.RevokedAt.IsZero() {
		return Principal{}, ErrUnauthenticated
	}
	a, err := s.store.GetAccount(ctx, k.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	return Principal{Account: a, APIKey: keyView(k)}, nil
}

// LooksLikeAPIKey tells whether s has the form of an API key (it may still be wrong).
func LooksLikeAPIKey(s string) bool {
	_, _, ok := parseAPIKey(s)
	return ok
}

func parseAPIKey(key string) (prefix, secret string, ok bool) { return parseKey(apiKeyTag, key) }

// parseKey splits a key of the form tag + prefix + "_" + secret (an account's or a
// partner's) into its parts, refusing any other shape.
func parseKey(tag, key string) (prefix, secret string, ok bool) {
	rest, ok := strings.CutPrefix(key, tag)
	if !ok {
		return "", "", false
	}
	prefix, secret, ok = strings.Cut(rest, "_")
	if !ok || len(prefix) != apiKeyPrefixLen || len(secret) != apiKeySecretLen ||
		!isKeyChars(prefix) || !isKeyChars(secret) {
		return "", "", false
	}
	return prefix, secret, true
}

// isKeyChars: lower-case base32 (a-z, 2-7).
func isKeyChars(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// randomKeyPart returns n random lower-case base32 characters (n <= 26).
func randomKeyPart(n int) string { return strings.ToLower(rand.Text()[:n]) }

// checkScopes returns the scopes sorted without duplicates, refusing an empty list and
// unknown scopes.
func checkScopes(scopes []string) ([]string, error) { return checkScopesOf(Scopes, scopes) }
