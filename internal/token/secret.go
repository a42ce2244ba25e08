package token

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// secretFile is the name of the signing secret within the data directory.
const secretFile = "signing.key"

// LoadOrCreateSecret reads the node's secret (for MACs such as the meeting layer's join links;
// join tokens are signed with the region key) from the data directory, generating it with
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
