package meeting

import (
	"strings"
	"testing"
)

func TestNewIDIsElevenRandomDigits(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		id, err := NewID()
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := NormalizeID(id); !ok || n != id {
			t.Fatalf("id %q is not 11 digits without a leading zero", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated within 2000 draws", id)
		}
		seen[id] = true
	}
}

func TestNormalizeID(t *testing.T) {
	for in, want := range map[string]string{"123 4567 8901": "12345678901", "123-4567-8901": "12345678901"} {
		if got, ok := NormalizeID(in); !ok || got != want {
			t.Errorf("%q -> %q %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "0123456789", "1234567890", "123456789012", "12345a78901", "02345678901"} {
		if _, ok := NormalizeID(in); ok {
			t.Errorf("%q accepted", in)
		}
	}
	if FormatID("12345678901") != "123 4567 8901" {
		t.Error(FormatID("12345678901"))
	}
}

func TestSecrets(t *testing.T) {
	p, err := NewPasscode()
	if err != nil || len(p) != PasscodeLength {
		t.Fatalf("passcode %q %v", p, err)
	}
	q, _ := NewPasscode()
	if p == q {
		t.Fatal("two passcodes are equal")
	}
	tok, err := NewJoinToken()
	if err != nil || len(tok) != 43 {
		t.Fatalf("join token %q %v", tok, err)
	}
	if !SecretsEqual(p, p) || SecretsEqual(p, q) {
		t.Fatal("SecretsEqual is wrong")
	}
}

// Passcodes are read off screens and out over phones: none has characters that pass for
// one another, and how it is typed (case, grouping) does not matter.
func TestPasscodesReadableAndCaseBlind(t *testing.T) {
	for range 500 {
		p, err := NewPasscode()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != PasscodeLength || strings.ContainsAny(p, "0OoQDd1IlLi2Zz5SsGg8BbUuVv") {
			t.Fatalf("passcode %q has look-alike characters or the wrong length", p)
		}
		typed := strings.ToLower(p[:5]) + " - " + p[5:]
		if !PasscodesEqual(typed, p) {
			t.Fatalf("%q typed as %q does not match", p, typed)
		}
	}
	// Passcodes of the older, case-sensitive alphabet keep working.
	if !PasscodesEqual("aBcD3fGh9k", "aBcD3fGh9k") || !PasscodesEqual("abcd-3fgh-9k", "aBcD3fGh9k") {
		t.Fatal("an older passcode no longer matches")
	}
	for _, wrong := range []string{"", " - ", "ABCD3FGH9", "ABCD3FGH9KX", "ABCD3FGH9J"} {
		if PasscodesEqual(wrong, "aBcD3fGh9k") {
			t.Errorf("%q matches", wrong)
		}
	}
}
