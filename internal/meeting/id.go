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

// passcodeAlphabet is what a passcode is made of: upper-case letters and digits that
// cannot be taken for one another when read off a screen. Of 0/O/Q/D, 1/I/L, 2/Z, 5/S,
// 8/B and U/V it keeps none; of 6/G, only 6. Typing is case-blind (see
// NormalizePasscode), so there is no lower case to confuse either.
const passcodeAlphabet = "34679ACEFHJKMNPRTWXY"

// PasscodeLength is the length of the passcodes NewPasscode makes: 20^12, about 4.1e15
// (52 bits), enough that even a node answering nothing but guesses at one meeting would
// take centuries; docs/security.md has the arithmetic against the join limits.
const PasscodeLength = 12

// NewPasscode returns a passcode of PasscodeLength characters of passcodeAlphabet from
// crypto/rand.
func NewPasscode() (string, error) {
	b := make([]byte, PasscodeLength)
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

// NormalizePasscode is a passcode as it is compared: without the spaces and dashes people
// type to group it, in upper case. Passcodes of the older, case-sensitive alphabet keep
// working: both sides of a comparison are normalised.
func NormalizePasscode(p string) string {
	return strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, p))
}

// PasscodesEqual compares a typed passcode with a meeting's, both normalised, in constant
// time. An empty typed passcode never matches.
func PasscodesEqual(typed, passcode string) bool {
	t := NormalizePasscode(typed)
	return t != "" && SecretsEqual(t, NormalizePasscode(passcode))
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
