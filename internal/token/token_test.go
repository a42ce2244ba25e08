package token

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func newKey(t testing.TB, region string) RegionKey {
	t.Helper()
	k, err := GenerateKey(region)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// homes maps rooms to home regions; a room missing is ErrUnknownRoom, and err, when set,
// is every answer (the control plane down).
type homes struct {
	of  map[string]string
	err error
}

func (h homes) HomeOf(_ context.Context, room string) (string, error) {
	if h.err != nil {
		return "", h.err
	}
	if r, ok := h.of[room]; ok {
		return r, nil
	}
	return "", fmt.Errorf("%w: %s", ErrUnknownRoom, room)
}

// sign makes a token by hand: any method, key, kid and claims.
func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, c Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyAcceptsOwnTokens(t *testing.T) {
	iss := NewIssuer(newKey(t, "local"), nil)
	tok, err := iss.Mint("room1", "alice", "Alice", Grants{Publish: true, Subscribe: true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Room != "room1" || c.Identity != "alice" || c.Name != "Alice" || !c.Publish || !c.Subscribe || c.Host || c.Home != "local" {
		t.Fatalf("claims = %+v", c)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &Claims{})
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Method.Alg() != "EdDSA" || parsed.Header["kid"] != "local" {
		t.Fatalf("header = %v", parsed.Header)
	}
}

func TestVerifyRefuses(t *testing.T) {
	key := newKey(t, "local")
	now := time.Now()
	iss := NewIssuer(key, func() time.Time { return now })
	good, _ := iss.Mint("r", "a", "", Grants{Subscribe: true}, time.Minute)

	other, _ := NewIssuer(newKey(t, "local"), nil).Mint("r", "a", "", Grants{}, time.Minute)
	later := NewIssuer(key, func() time.Time { return now.Add(2 * time.Minute) })
	valid := Claims{Room: "r", Identity: "a", Home: "local", RegisteredClaims: jwt.RegisteredClaims{
		Issuer: issuer, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "local", valid)
	// Alg confusion: HMAC keyed with the public key, which every node knows.
	hsPublic := sign(t, jwt.SigningMethodHS256, []byte(key.Public()), "local", valid)
	hsSecret := sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), "local", valid)
	noExp := valid
	noExp.ExpiresAt = nil
	forever := valid
	forever.ExpiresAt = jwt.NewNumericDate(now.Add(365 * 24 * time.Hour))
	// Issued 30 days ahead with a 1 h lifetime and no nbf: without a bound on iat it would
	// be valid for the next 30 days.
	ahead := now.Add(30 * 24 * time.Hour)
	future := valid
	future.IssuedAt, future.ExpiresAt = jwt.NewNumericDate(ahead), jwt.NewNumericDate(ahead.Add(time.Hour))
	noKid := sign(t, jwt.SigningMethodEdDSA, key.Private, "", valid)

	cases := []struct {
		name string
		iss  *Issuer
		tok  string
		want error
	}{
		{"expired", later, good, ErrExpired},
		{"another key of the same region id", iss, other, ErrInvalid},
		{"alg none", iss, noneTok, ErrInvalid},
		{"HS256 keyed with the public key", iss, hsPublic, ErrInvalid},
		{"HS256 keyed with a shared secret", iss, hsSecret, ErrInvalid},
		{"no expiry", iss, sign(t, jwt.SigningMethodEdDSA, key.Private, "local", noExp), ErrInvalid},
		{"tampered", iss, tamper(good), ErrInvalid},
		{"lifetime over MaxTTL", iss, sign(t, jwt.SigningMethodEdDSA, key.Private, "local", forever), ErrInvalid},
		{"issued in the future", iss, sign(t, jwt.SigningMethodEdDSA, key.Private, "local", future), ErrInvalid},
		{"no kid", iss, noKid, ErrWrongRegionKey},
		{"garbage", iss, "not.a.token", ErrInvalid},
		{"oversize", iss, strings.Repeat("a", 5000), ErrInvalid},
	}
	for _, c := range cases {
		if _, err := c.iss.Verify(context.Background(), c.tok); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

// A node accepts a token only from the key of the room's home region, which it knows
// from its own facts and not from the token.
func TestVerifyTakesTheKeyOfTheRoomsHome(t *testing.T) {
	eu, us := newKey(t, "eu-central"), newKey(t, "us-west")
	keys := Keys{eu.Region: eu.Public(), us.Region: us.Public()}
	h := homes{of: map[string]string{"m-eu": "eu-central", "m-us": "us-west"}}
	node := NewIssuer(us, nil).Trusting(keys, h) // a US node
	ctx := context.Background()
	now := time.Now()
	claims := func(room, home string) Claims {
		return Claims{Room: room, Identity: "a", Home: home, Grants: Grants{Subscribe: true},
			RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer, IssuedAt: jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}
	}

	fromEU, _ := NewIssuer(eu, nil).Mint("m-eu", "a", "", Grants{Subscribe: true}, time.Hour)
	if c, err := node.Verify(ctx, fromEU); err != nil || c.Home != "eu-central" {
		t.Fatalf("EU's token for an EU meeting on a US node: %+v, %v", c, err)
	}
	// The US region signs a token for the EU meeting, correctly, with its own key: refused.
	usForEU, _ := NewIssuer(us, nil).Mint("m-eu", "a", "", Grants{Subscribe: true}, time.Hour)
	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"US key, US kid, EU meeting", usForEU, ErrWrongRegionKey},
		{"US key under EU's kid and home", sign(t, jwt.SigningMethodEdDSA, us.Private, "eu-central", claims("m-eu", "eu-central")), ErrInvalid},
		{"EU key, EU kid, home claim US", sign(t, jwt.SigningMethodEdDSA, eu.Private, "eu-central", claims("m-eu", "us-west")), ErrWrongRegionKey},
		{"EU key, US kid and home, US meeting", sign(t, jwt.SigningMethodEdDSA, eu.Private, "us-west", claims("m-us", "us-west")), ErrInvalid},
		{"room with no known home", sign(t, jwt.SigningMethodEdDSA, eu.Private, "eu-central", claims("m-gone", "eu-central")), ErrUnknownRoom},
	}
	for _, c := range cases {
		if _, err := node.Verify(ctx, c.tok); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}

	// A region in the list without a public key is trusted for nothing.
	noEU := NewIssuer(us, nil).Trusting(Keys{us.Region: us.Public()}, h)
	if _, err := noEU.Verify(ctx, fromEU); !errors.Is(err, ErrInvalid) {
		t.Errorf("token of a region whose key is unknown: err = %v", err)
	}
	// The control plane down: refused, however good the token.
	down := NewIssuer(us, nil).Trusting(keys, homes{err: fmt.Errorf("%w: directory not ready", ErrHomeUnavailable)})
	if _, err := down.Verify(ctx, fromEU); !errors.Is(err, ErrHomeUnavailable) {
		t.Errorf("home unavailable: err = %v", err)
	}
}

func TestMintRejectsBadTTL(t *testing.T) {
	iss := NewIssuer(newKey(t, "local"), nil)
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

func TestRegionKeyIsCreatedOnceAndPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "region-eu-central.key")
	a, err := LoadOrCreateRegionKey(path, "eu-central")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateRegionKey(path, "eu-central")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Private.Equal(b.Private) || a.Region != "eu-central" || len(a.Public()) != ed25519.PublicKeySize {
		t.Fatal("region key changed between starts")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode = %v", st.Mode().Perm())
	}
	// A token minted by one node of the region verifies on another holding the same file.
	tok, _ := NewIssuer(a, nil).Mint("r", "x", "", Grants{Subscribe: true}, time.Minute)
	if _, err := NewIssuer(b, nil).Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}

	// Reading never creates: a key made by a tool would sign tokens no node accepts.
	dir := t.TempDir()
	if _, err := ReadRegionKey(filepath.Join(dir, "none.key"), "x"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadRegionKey of a missing file: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("ReadRegionKey wrote %d files", len(entries))
	}
	bad := filepath.Join(t.TempDir(), "short.key")
	if err := os.WriteFile(bad, []byte("too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateRegionKey(bad, "x"); err == nil {
		t.Fatal("a key file of the wrong size was accepted")
	}
}

// A clock a little ahead of this one (within MaxClockSkew) still mints usable tokens.
func TestVerifyAllowsSmallClockSkew(t *testing.T) {
	key := newKey(t, "local")
	now := time.Now()
	ahead := NewIssuer(key, func() time.Time { return now.Add(MaxClockSkew / 2) })
	tok, err := ahead.Mint("r", "a", "", Grants{Subscribe: true, Seats: 7}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewIssuer(key, func() time.Time { return now }).Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("token from a clock %s ahead: %v", MaxClockSkew/2, err)
	}
	if c.Seats != 7 {
		t.Fatalf("seats = %d, want 7", c.Seats)
	}
}

func BenchmarkVerify(b *testing.B) {
	eu, us := newKey(b, "eu-central"), newKey(b, "us-west")
	node := NewIssuer(us, nil).Trusting(Keys{eu.Region: eu.Public(), us.Region: us.Public()},
		homes{of: map[string]string{"m-eu": "eu-central"}})
	tok, err := NewIssuer(eu, nil).Mint("m-eu", "guest-abc", "Guest", Grants{Publish: true, Subscribe: true}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := node.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// tamper changes one character well inside a token's signature, where every bit counts (the
// last character's low bits are padding, which a lenient decoder may ignore).
func tamper(tok string) string {
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
