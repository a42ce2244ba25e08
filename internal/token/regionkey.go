package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// RegionKey is a region's signing key. The nodes of a region share it (a file copied into
// each one's data directory); no other region holds it.
type RegionKey struct {
	Region  string
	Private ed25519.PrivateKey
}

// Public is the key's public half, which every node of the deployment knows.
func (k RegionKey) Public() ed25519.PublicKey {
	if len(k.Private) != ed25519.PrivateKeySize {
		return nil
	}
	return k.Private.Public().(ed25519.PublicKey)
}

// PublicBase64 is the public key as the region list's public_key gives it: standard
// base64 of its 32 bytes.
func (k RegionKey) PublicBase64() string { return base64.StdEncoding.EncodeToString(k.Public()) }

// GenerateKey returns a new key for region, from crypto/rand.
func GenerateKey(region string) (RegionKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return RegionKey{}, fmt.Errorf("generate region key: %w", err)
	}
	return RegionKey{Region: region, Private: priv}, nil
}

// Keys are the public keys of the deployment's regions, by region id.
type Keys map[string]ed25519.PublicKey

// ReadRegionKey reads region's key from path (its 32-byte Ed25519 seed); a missing file
// is an error wrapping os.ErrNotExist.
func ReadRegionKey(path, region string) (RegionKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return RegionKey{}, fmt.Errorf("read region key: %w", err)
	}
	if len(b) != ed25519.SeedSize {
		return RegionKey{}, fmt.Errorf("region key %s: %d bytes, want an Ed25519 seed of %d", path, len(b), ed25519.SeedSize)
	}
	return RegionKey{Region: region, Private: ed25519.NewKeyFromSeed(b)}, nil
}

// LoadOrCreateRegionKey reads region's key from path, generating it with crypto/rand on
// first start; the file is readable by its owner only. A region of several nodes gives
// each the same file.
func LoadOrCreateRegionKey(path, region string) (RegionKey, error) {
	k, err := ReadRegionKey(path, region)
	if !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return RegionKey{}, fmt.Errorf("create region key's directory: %w", err)
	}
	k, err = GenerateKey(region)
	if err != nil {
		return RegionKey{}, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateRegionKey(path, region) // another process won the race
	}
	if err != nil {
		return RegionKey{}, fmt.Errorf("create region key: %w", err)
	}
	if _, err := f.Write(k.Private.Seed()); err != nil {
		f.Close()
		return RegionKey{}, fmt.Errorf("write region key: %w", err)
	}
	if err := f.Close(); err != nil {
		return RegionKey{}, fmt.Errorf("write region key: %w", err)
	}
	return k, nil
}
