package account

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id PHC", h)
	}
	if ok, err := CheckPassword(h, "correct horse battery"); !ok || err != nil {
		t.Fatalf("right password refused: %v %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "correct horse batterx"); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

func TestPasswordBounds(t *testing.T) {
	for _, p := range []string{"", "short", strings.Repeat("x", MaxPasswordLength+1)} {
		if _, err := HashPassword(p); err != ErrWeakPassword {
			t.Errorf("len %d: err = %v", len(p), err)
		}
	}
}

func TestCheckPasswordRejectsMalformedHashes(t *testing.T) {
	for _, h := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AA$AA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$AA", "plain"} {
		if ok, err := CheckPassword(h, "whatever-password"); ok || err == nil {
			t.Errorf("%q: ok=%v err=%v", h, ok, err)
		}
	}
}

func TestFreePlanIsLimitedTo40Minutes(t *testing.T) {
	e, err := EntitlementsOf(Free)
	if err != nil {
		t.Fatal(err)
	}
	if e.MaxMeetingLength != 40*time.Minute || e.RegionSelection || e.CloudRecording {
		t.Fatalf("free = %+v", e)
	}
	b, _ := EntitlementsOf(Business)
	if !b.RegionSelection || !b.CloudRecording || b.MaxMeetingLength <= 40*time.Minute {
		t.Fatalf("business = %+v", b)
	}
	if _, err := EntitlementsOf("gold"); err == nil {
		t.Fatal("unknown plan accepted")
	}
}
