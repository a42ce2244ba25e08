// Package meeting owns meetings: their ids, passcodes and join links, scheduling, the
// waiting room and host controls. It decides nothing about who may host (that is policy)
// and knows nothing of HTTP or WebSocket.
package meeting

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
)

// IDDigits is the length of a meeting id.
const IDDigits = 11

// NewID returns an 11-digit meeting id from crypto/rand, never starting with 0 so that it
// keeps its length when read as a number. Ids are not sequential: knowing one tells
// nothing of the others.
func NewID() (string, error) {
	lo := new(big.Int).Exp(big.NewInt(10), big.NewInt(IDDigits-1), nil)
	span := new(big.Int).Sub(new(big.Int).Mul(lo, big.NewInt(10)), lo)
	n, err := rand.Int(rand.Reader, span)
	if err != nil {
		return "", fmt.Errorf("meeting id: %w", err)
	}
	return n.Add(n, lo).String(), nil
}

// NormalizeID accepts an id as people type it ("123 4567 8901", "123-4567-8901") and
// returns its digits, or false if it is not a meeting id.
func NormalizeID(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return "", false
		}
	}
	id := b.String()
	return id, len(id) == IDDigits && id[0] != '0'
}

// FormatID groups an id's digits for reading aloud: 123 4567 8901.
func FormatID(id string) string {
	if len(id) != IDDigits {
		return id
	}
	return id[:3] + " " + id[3:7] + " " + id[7:]
}

// passcodeAlphabet leaves out characters that are easily confused (0/O, 1/l/I).
const passcodeAlphabet = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"

// NewPasscode returns a 10-character passcode from crypto/rand (about 58 bits).
func NewPasscode() (string, error) {
	b := make([]byte, 10)
	max := big.NewInt(int64(len(passcodeAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("passcode: %w", err)
		}
		b[i] = passcodeAlphabet[n.Int64()]
	}
	return string(b), nil
}

// NewJoinToken returns the unguessable token carried by a meeting's join link (256 bits).
func NewJoinToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("join token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SecretsEqual compares two secrets (passcodes, tokens) in constant time.
func SecretsEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
