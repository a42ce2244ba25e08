// Package token mints and verifies the signed join tokens (JWT, EdDSA) that authorise a
// client to enter a room with given grants. The meeting layer decides who gets one; the
// signalling and WHIP/WHEP endpoints only check them.
//
// Each region has its own Ed25519 key ([RegionKey]), not a secret every node shares. A
// token is signed by the key of the home region of its room's meeting, names that region
// as its kid header and home claim, and is accepted only with that region's public key,
// chosen by where the verifying node knows the room is homed ([Homes]), never by what the
// token says. So a node of one region can never authorize entry to another region's
// meetings.
package token

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Grants say what the bearer may do in the room.
type Grants struct {
	Publish   bool `json:"canPublish,omitempty"`
	Subscribe bool `json:"canSubscribe,omitempty"`
	Host      bool `json:"host,omitempty"`
	// Waiting holds the bearer in the room's waiting room until a host admits them.
	Waiting bool `json:"waiting,omitempty"`
	// Seats is how many may be in the room at once, every connection and the waiting
	// room counted (the plan's participant limit); 0 for no limit. The room enforces it.
	Seats int `json:"seats,omitempty"`
	// Regions are the regions that may carry the meeting (its allowed set), so that a
	// node can check its own region against it.
	Regions []string `json:"regions,omitempty"`
	// Channel is the sales channel of the meeting's account ("direct" or a partner id),
	// asserted by its home region's signature, so that a node of a region run by a
	// partner admits only that partner's customers' meetings.
	Channel string `json:"channel,omitempty"`
}

// Claims are the verified contents of a join token.
type Claims struct {
	Room     string `json:"room"`
	Identity string `json:"identity"`
	Name     string `json:"name,omitempty"`
	// Home is the region whose key signed the token: the home region of the room's
	// meeting. It repeats the kid header so that it is covered by the signature's claims.
	Home string `json:"home"`
	Grants
	jwt.RegisteredClaims
}

// Errors of Verify; callers map them to stable error codes.
var (
	ErrInvalid = errors.New("token: invalid")
	ErrExpired = errors.New("token: expired")
	// ErrWrongRegionKey: the token names a region as its signer that is not the home
	// region of its room's meeting.
	ErrWrongRegionKey = errors.New("token: signed by a region that is not the meeting's home")
	// ErrUnknownRoom: no region is known to be the home of the room (no such meeting).
	ErrUnknownRoom = errors.New("token: no home region known for the room")
	// ErrHomeUnavailable: where the room is homed cannot be established now (the control
	// plane does not answer). The token is refused: fail closed.
	ErrHomeUnavailable = errors.New("token: the room's home region cannot be established")
)

// MaxTTL bounds a token's lifetime.
const MaxTTL = 24 * time.Hour

// MaxClockSkew is how far in the future a token's issue time may lie: a token issued
// later than that was not minted by a clock in step with this one, and would otherwise be
// valid for as long ahead as it claims to be issued.
const MaxClockSkew = time.Minute

// maxTokenLen bounds what Verify parses.
const maxTokenLen = 4096

const issuer = "meridian"

// Homes says which region's key must have signed a token for room: the home region of
// the room's meeting. It returns an error wrapping ErrUnknownRoom when no region is, and
// ErrHomeUnavailable when it cannot tell now.
type Homes interface {
	HomeOf(ctx context.Context, room string) (string, error)
}

// Issuer mints tokens with its region's key and verifies tokens against the public keys
// of the regions it trusts.
type Issuer struct {
	key   RegionKey
	keys  Keys
	homes Homes
	now   func() time.Time
}

// NewIssuer returns an issuer that signs with key, and (until [Issuer.Trusting]) trusts
// key alone, taking every room as homed in key's region; now is the clock (time.Now when
// nil).
func NewIssuer(key RegionKey, now func() time.Time) *Issuer {
	if now == nil {
		now = time.Now
	}
	return &Issuer{key: key, keys: Keys{key.Region: key.Public()}, homes: ownRegion(key.Region), now: now}
}

// Trusting returns a copy of i that verifies a token with the key in keys of the region
// homes names for its room.
func (i *Issuer) Trusting(keys Keys, homes Homes) *Issuer {
	c := *i
	c.keys, c.homes = keys, homes
	return &c
}

// Region is the region whose key this issuer signs with.
func (i *Issuer) Region() string { return i.key.Region }

type ownRegion string

func (r ownRegion) HomeOf(context.Context, string) (string, error) { return string(r), nil }

// Mint returns a token for identity in room, valid for ttl, signed with this region's key.
// The room must be homed in this region for any node to accept it.
func (i *Issuer) Mint(room, identity, name string, g Grants, ttl time.Duration) (string, error) {
	if room == "" || identity == "" {
		return "", errors.New("token: room and identity are required")
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", fmt.Errorf("token: ttl must be in (0, %s]", MaxTTL)
	}
	if len(i.key.Private) == 0 {
		return "", errors.New("token: no signing key")
	}
	now := i.now()
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	c := Claims{
		Room: room, Identity: identity, Name: name, Home: i.key.Region, Grants: g,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-30 * time.Second)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        fmt.Sprintf("%x", jti),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = i.key.Region
	return t.SignedString(i.key.Private)
}

// Verify checks a token's signature, algorithm (EdDSA only: an HS256 or none token is
// refused however it was made), signing region, issuer and validity period. The key is
// the one of the region Homes names for the token's room; a kid or home claim naming
// another region is ErrWrongRegionKey, even when that region's key signed it.
func (i *Issuer) Verify(ctx context.Context, tok string) (*Claims, error) {
	if len(tok) > maxTokenLen {
		return nil, ErrInvalid
	}
	var c Claims
	_, err := jwt.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		// c holds the claims as sent, not yet verified: only the room is used, to find
		// the key that must have signed them.
		home, err := i.homes.HomeOf(ctx, c.Room)
		if err != nil {
			return nil, err
		}
		kid, _ := t.Header["kid"].(string)
		if kid != home || c.Home != home {
			return nil, fmt.Errorf("%w: kid %q, home claim %q, room homed in %q", ErrWrongRegionKey, kid, c.Home, home)
		}
		key, ok := i.keys[home]
		if !ok {
			return nil, fmt.Errorf("%w: no public key of region %q", ErrInvalid, home)
		}
		return key, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(i.now),
	)
	switch {
	case errors.Is(err, ErrWrongRegionKey), errors.Is(err, ErrUnknownRoom), errors.Is(err, ErrHomeUnavailable):
		return nil, err
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	case c.Room == "" || c.Identity == "":
		return nil, ErrInvalid
	case c.IssuedAt == nil || c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxTTL:
		// A token living longer than any this server mints was not minted by it as
		// intended: a leaked key should not buy a token that never ends.
		return nil, fmt.Errorf("%w: lifetime over %s", ErrInvalid, MaxTTL)
	case c.IssuedAt.After(i.now().Add(MaxClockSkew)):
		return nil, fmt.Errorf("%w: issued in the future", ErrInvalid)
	}
	return &c, nil
}
