package token

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerifyAcceptsOwnTokens(t *testing.T) {
	iss := NewIssuer([]byte(strings.Repeat("k", 32)), nil)
	tok, err := iss.Mint("room1", "alice", "Alice", Grants{Publish: true, Subscribe: true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Room != "room1" || c.Identity != "alice" || c.Name != "Alice" || !c.Publish || !c.Subscribe || c.Host {
		t.Fatalf("claims = %+v", c)
	}
}

func TestVerifyRefuses(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	now := time.Now()
	iss := NewIssuer(secret, func() time.Time { return now })
	good, _ := iss.Mint("r", "a", "", Grants{Subscribe: true}, time.Minute)

	other, _ := NewIssuer([]byte(strings.Repeat("x", 32)), nil).Mint("r", "a", "", Grants{}, time.Minute)
	later := NewIssuer(secret, func() time.Time { return now.Add(2 * time.Minute) })
	none := jwt.NewWithClaims(jwt.SigningMethodNone, Claims{Room: "r", Identity: "a",
		RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Room: "r", Identity: "a",
		RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer}}).SignedString(secret)
	tampered := good[:len(good)-2] + "AA"
	forever, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Room: "r", Identity: "a",
		RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer, IssuedAt: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(365 * 24 * time.Hour))}}).SignedString(secret)
	// Issued 30 days ahead with a 1 h lifetime and no nbf: without a bound on iat it would
	// be valid for the next 30 days.
	ahead := now.Add(30 * 24 * time.Hour)
	future, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Room: "r", Identity: "a",
		RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer, IssuedAt: jwt.NewNumericDate(ahead),
			ExpiresAt: jwt.NewNumericDate(ahead.Add(time.Hour))}}).SignedString(secret)

	cases := []struct {
		name string
		iss  *Issuer
		tok  string
		want error
	}{
		{"expired", later, good, ErrExpired},
		{"other secret", iss, other, ErrInvalid},
		{"alg none", iss, noneTok, ErrInvalid},
		{"no expiry", iss, noExp, ErrInvalid},
		{"tampered", iss, tampered, ErrInvalid},
		{"lifetime over MaxTTL", iss, forever, ErrInvalid},
		{"issued in the future", iss, future, ErrInvalid},
		{"garbage", iss, "not.a.token", ErrInvalid},
		{"oversize", iss, strings.Repeat("a", 5000), ErrInvalid},
	}
	for _, c := range cases {
		if _, err := c.iss.Verify(c.tok); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestMintRejectsBadTTL(t *testing.T) {
	iss := NewIssuer([]byte(strings.Repeat("k", 32)), nil)
	for _, ttl := range []time.Duration{0, -time.Second, MaxTTL + time.Second} {
		if _, err := iss.Mint("r", "a", "", Grants{}, ttl); err == nil {
			t.Errorf("ttl %s accepted", ttl)
		}
	}
}

func TestSecretIsCreatedOnceAndPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) || len(a) != 32 {
		t.Fatal("secret changed between starts")
	}
	st, err := os.Stat(filepath.Join(dir, secretFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secret mode = %v", st.Mode().Perm())
	}
}

// A clock a little ahead of this one (within MaxClockSkew) still mints usable tokens.
func TestVerifyAllowsSmallClockSkew(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	now := time.Now()
	ahead := NewIssuer(secret, func() time.Time { return now.Add(MaxClockSkew / 2) })
	tok, err := ahead.Mint("r", "a", "", Grants{Subscribe: true, Seats: 7}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewIssuer(secret, func() time.Time { return now }).Verify(tok)
	if err != nil {
		t.Fatalf("token from a clock %s ahead: %v", MaxClockSkew/2, err)
	}
	if c.Seats != 7 {
		t.Fatalf("seats = %d, want 7", c.Seats)
	}
}
