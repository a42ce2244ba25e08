package account

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/ratelimit"
	"github.com/meridian-video/meridian/internal/store"
)

// Partner API key scopes: what a partner's key may do for the partner's own customers.
const (
	ScopePartnerAccountsRead  = "partner:accounts:read"  // list and read customers and their users
	ScopePartnerAccountsWrite = "partner:accounts:write" // provision customers, add and remove their users
	ScopePartnerBillingRead   = "partner:billing:read"   // read customers' subscriptions and invoices
	ScopePartnerBillingWrite  = "partner:billing:write"  // check out and cancel for customers
)

// PartnerScopes lists every scope a partner key may carry.
var PartnerScopes = []string{ScopePartnerAccountsRead, ScopePartnerAccountsWrite, ScopePartnerBillingRead, ScopePartnerBillingWrite}

// MaxActivePartnerKeys bounds the unrevoked keys of one partner.
const MaxActivePartnerKeys = 100

// A partner key is "pk_" + a public prefix + "_" + a secret, shaped as an account's API key
// but with its own tag, so that neither kind is ever taken for the other.
const partnerKeyTag = "pk_"

// partnerKeyTouchEvery is how stale a key's last-used time may get: a key in use is
// written at most once a minute, not on every request.
const partnerKeyTouchEvery = time.Minute

// PartnerKey is a partner's key as it may be shown again after its creation: never its
// secret.
type PartnerKey struct {
	ID         string
	PartnerID  string
	Name       string
	Prefix     string
	Scopes     []string
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero if never used
	RevokedAt  time.Time // zero while the key works
}

// Revoked tells whether the key has been revoked.
func (k PartnerKey) Revoked() bool { return !k.RevokedAt.IsZero() }

func partnerKeyView(k store.PartnerKey) PartnerKey {
	return PartnerKey{ID: k.ID, PartnerID: k.PartnerID, Name: k.Name, Prefix: k.Prefix, Scopes: slices.Clone(k.Scopes),
		CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

// PartnerPrincipal is a partner acting through one of its keys: never a user, and never
// an account's principal. It may act only on the accounts of its channel.
type PartnerPrincipal struct {
	PartnerID string
	Key       PartnerKey
}

// Actor is how the audit log names the partner (as commerce.PartnerScope does).
func (p PartnerPrincipal) Actor() string { return "partner:" + p.PartnerID }

// Allows tells whether the principal's key carries scope.
func (p PartnerPrincipal) Allows(scope string) bool { return slices.Contains(p.Key.Scopes, scope) }

// errNoPartner is the answer for a partner id with no record in this region.
var errNoPartner = &Error{Code: CodeNotFound, Message: "no such partner"}

// partner returns the partner's record, errNoPartner when this region has none.
func (s *Service) partner(ctx context.Context, id string) (store.Partner, error) {
	if id == "" || len(id) > maxTokenLength {
		return store.Partner{}, errNoPartner
	}
	p, err := s.store.GetPartner(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Partner{}, errNoPartner
	}
	return p, err
}

// CreatePartnerKey creates a key for a partner and returns it with its secret, the whole
// key to present ("pk_<prefix>_<secret>"), which is not stored and cannot be shown again.
// operator is the user making it; the caller has established that it is an operator.
func (s *Service) CreatePartnerKey(ctx context.Context, operator, partnerID, name string, scopes []string) (PartnerKey, string, error) {
	if _, err := s.partner(ctx, partnerID); err != nil {
		return PartnerKey{}, "", err
	}
	name, err := checkName("key name", name)
	if err != nil {
		return PartnerKey{}, "", err
	}
	scopes, err = checkScopesOf(PartnerScopes, scopes)
	if err != nil {
		return PartnerKey{}, "", err
	}
	existing, err := s.store.ListPartnerKeys(ctx, partnerID)
	if err != nil {
		return PartnerKey{}, "", err
	}
	if active := activeKeys(existing, func(k store.PartnerKey) time.Time { return k.RevokedAt }); active >= MaxActivePartnerKeys {
		return PartnerKey{}, "", invalid(fmt.Sprintf("the partner has %d keys, the most it may have; revoke one first", active))
	}
	k, prefix, secret, err := mintKey(ctx, s, CredentialPartnerKey, func(prefix, secret string) (store.PartnerKey, error) {
		return s.store.CreatePartnerKey(ctx, store.NewPartnerKey{PartnerID: partnerID, Name: name, Prefix: prefix,
			Secret: secret, Scopes: scopes, CreatedBy: operator, CreatedAt: s.now()})
	})
	if err != nil {
		return PartnerKey{}, "", err
	}
	s.audit(ctx, operator, "partner_key.create", k.ID, "ok",
		fmt.Sprintf("partner=%s prefix=%s scopes=%s", partnerID, k.Prefix, strings.Join(k.Scopes, ",")))
	return partnerKeyView(k), partnerKeyTag + prefix + "_" + secret, nil
}

// ListPartnerKeys returns a partner's keys, revoked ones included, without secrets.
func (s *Service) ListPartnerKeys(ctx context.Context, partnerID string) ([]PartnerKey, error) {
	if _, err := s.partner(ctx, partnerID); err != nil {
		return nil, err
	}
	keys, err := s.store.ListPartnerKeys(ctx, partnerID)
	if err != nil {
		return nil, err
	}
	out := make([]PartnerKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, partnerKeyView(k))
	}
	return out, nil
}

// RevokePartnerKey revokes a partner's key at once; a key of another partner is
// ErrNotFound. Revoking a revoked key again is not an error.
func (s *Service) RevokePartnerKey(ctx context.Context, operator, partnerID, id string) error {
	if _, err := s.partner(ctx, partnerID); err != nil {
		return err
	}
	if id == "" || len(id) > maxTokenLength {
		return ErrNotFound
	}
	err := s.store.RevokePartnerKey(ctx, partnerID, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	s.audit(ctx, operator, "partner_key.revoke", id, "ok", "partner="+partnerID)
	return nil
}

// AuthenticatePartnerKey returns the partner principal of a whole key
// ("pk_<prefix>_<secret>"), or ErrUnauthenticated when it is malformed, unknown, wrong or
// revoked (alike; each refusal is audited, summed per client). The secret's hash is
// compared in constant time. A client address with too many failures is refused
// (rate_limited) whatever key it presents, until its bucket refills: secrets of 130 bits
// cannot be guessed, but nor should anyone get to try at will.
func (s *Service) AuthenticatePartnerKey(ctx context.Context, key, clientIP string) (PartnerPrincipal, error) {
	b, wait := s.partnerKeyIP.Begin(ratelimit.IPKey(clientIP), s.now())
	if b == nil {
		s.refused(ctx, clientIP, "anonymous", "partner_key.use", "", "rate_limited", "ip="+clientIP)
		return PartnerPrincipal{}, rateLimited(wait)
	}
	failed := true
	defer func() { s.partnerKeyIP.End(b, s.now(), failed) }()
	deny := func(subject, why string) (PartnerPrincipal, error) {
		s.refused(ctx, clientIP, "anonymous", "partner_key.use", subject, "denied", why+"; ip="+clientIP)
		return PartnerPrincipal{}, ErrUnauthenticated
	}
	prefix, secret, ok := parseKey(partnerKeyTag, key)
	if !ok {
		return deny("", "not a partner key")
	}
	k, err := s.store.GetPartnerKeyByPrefix(ctx, prefix)
	if errors.Is(err, store.ErrNotFound) {
		return deny("", "unknown partner key")
	}
	if err != nil {
		return PartnerPrincipal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(store.HashToken(secret)), []byte(k.SecretHash)) != 1 {
		return deny(k.ID, "wrong secret")
	}
	if !k.RevokedAt.IsZero() {
		return deny(k.ID, "revoked key")
	}
	failed = false
	if now := s.now(); now.Sub(k.LastUsedAt) >= partnerKeyTouchEvery {
		if err := s.store.TouchPartnerKey(ctx, k.ID, now); err != nil {
			s.log.WarnContext(ctx, "partner key's last use not recorded", "key", k.ID, "err", err)
		}
		k.LastUsedAt = now
	}
	return PartnerPrincipal{PartnerID: k.PartnerID, Key: partnerKeyView(k)}, nil
}

// PartnerAllows refuses (forbidden, audited) a partner whose key lacks scope for action.
func (s *Service) PartnerAllows(ctx context.Context, p PartnerPrincipal, scope, action string) error {
	if p.Allows(scope) {
		return nil
	}
	e := forbidden("this partner key lacks the scope " + scope)
	s.auditLog.Refusal(ctx, "", store.AuditEntry{At: s.now(), Actor: p.Actor(), Action: action, Outcome: "denied",
		Detail: "key=" + p.Key.ID + " lacks " + scope})
	return e
}

// checkScopesOf returns the scopes sorted without duplicates, refusing an empty list and
// scopes not in known.
func checkScopesOf(known, scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, invalid("a key needs at least one scope, of: " + strings.Join(known, ", "))
	}
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		if !slices.Contains(known, sc) {
			return nil, invalid(fmt.Sprintf("unknown scope %q; scopes are: %s", sc, strings.Join(known, ", ")))
		}
		out = append(out, sc)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
