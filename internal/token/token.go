// Package token mints and verifies the signed join tokens (JWT, HS256) that authorise a
// client to enter a room with given grants. The meeting layer decides who gets one; the
// signalling and WHIP/WHEP endpoints only check them.
package token

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
}

// Claims are the verified contents of a join token.
type Claims struct {
	Room     string `json:"room"`
	Identity string `json:"identity"`
	Name     string `json:"name,omitempty"`
	Grants
	jwt.RegisteredClaims
}

// Errors of Verify; callers map them to stable error codes.
var (
	ErrInvalid = errors.New("token: invalid")
	ErrExpired = errors.New("token: expired")
)

// MaxTTL bounds a token's lifetime.
const MaxTTL = 24 * time.Hour

// MaxClockSkew is how far in the future a token's issue time may lie: a token issued
// later than that was not minted by a clock in step with this one, and would otherwise be
// valid for as long ahead as it claims to be issued.
const MaxClockSkew = time.Minute

const issuer = "meridian"

// Issuer mints and verifies tokens with one secret.
type Issuer struct {
	secret []byte
	now    func() time.Time
}

// NewIssuer returns an issuer for secret; now is the clock (time.Now when nil).
func NewIssuer(secret []byte, now func() time.Time) *Issuer {
	if now == nil {
		now = time.Now
	}
	return &Issuer{secret: secret, now: now}
}

// Mint returns a token for identity in room, valid for ttl.
func (i *Issuer) Mint(room, identity, name string, g Grants, ttl time.Duration) (string, error) {
	if room == "" || identity == "" {
		return "", errors.New("token: room and identity are required")
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", fmt.Errorf("token: ttl must be in (0, %s]", MaxTTL)
	}
	now := i.now()
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	c := Claims{
		Room: room, Identity: identity, Name: name, Grants: g,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-30 * time.Second)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        fmt.Sprintf("%x", jti),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.secret)
}

// Verify checks a token's signature, algorithm, issuer and validity period.
func (i *Issuer) Verify(tok string) (*Claims, error) {
	if len(tok) > 4096 {
		return nil, ErrInvalid
	}
	var c Claims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return i.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(i.now),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	case c.Room == "" || c.Identity == "":
		return nil, ErrInvalid
	case c.IssuedAt == nil || c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxTTL:
		// A token living longer than any this server mints was not minted by it as
		// intended: a leaked secret should not buy a token that never ends.
		return nil, fmt.Errorf("%w: lifetime over %s", ErrInvalid, MaxTTL)
	case c.IssuedAt.After(i.now().Add(MaxClockSkew)):
		return nil, fmt.Errorf("%w: issued in the future", ErrInvalid)
	}
	return &c, nil
}

// secretFile is the name of the signing secret within the data directory.
const secretFile = "signing.key"

// LoadOrCreateSecret reads the signing secret from the data directory, generating it with
// crypto/rand on first start. The file is readable by its owner only.
func LoadOrCreateSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, secretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("signing secret %s is shorter than 32 bytes", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read signing secret: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate signing secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateSecret(dataDir) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("create signing secret: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("write signing secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write signing secret: %w", err)
	}
	return b, nil
}
