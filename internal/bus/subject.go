package bus

import (
	"errors"
	"fmt"
	"strings"
)

// MaxTokenLen bounds one subject token: long enough for a base64url SHA-256 (43) or a
// 26-character random id with a short prefix, short enough that free text does not fit.
const MaxTokenLen = 64

// ErrBadToken is returned (wrapped) for a subject token that is not an id.
var ErrBadToken = errors.New("bus: subject token must be 1-64 characters of A-Z a-z 0-9 _ -")

// Token checks that s may appear in a subject, stream name, bucket name or key: a region id,
// a node id, an opaque random id or a keyed hash, never personal data.
func Token(s string) error {
	if s == "" || len(s) > MaxTokenLen {
		return fmt.Errorf("%w: got %d characters", ErrBadToken, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q at %d", ErrBadToken, c, i)
		}
	}
	return nil
}

// Subject joins tokens with "." after checking each with [Token].
func Subject(tokens ...string) (string, error) {
	for _, t := range tokens {
		if err := Token(t); err != nil {
			return "", err
		}
	}
	return strings.Join(tokens, "."), nil
}
