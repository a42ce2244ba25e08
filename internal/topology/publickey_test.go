package topology

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

var testKey = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))

func TestParsePublicKey(t *testing.T) {
	yaml := strings.Replace(threeRegions, "    opt_in: true\n", "    opt_in: true\n    public_key: "+testKey+"\n", 1)
	dep, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cn, _ := dep.Lookup("cn-north")
	key, ok, err := cn.Ed25519Key()
	if err != nil || !ok || string(key) != strings.Repeat("k", 32) {
		t.Fatalf("cn-north key = %x, %v, %v", key, ok, err)
	}
	us, _ := dep.Lookup("us-west")
	if _, ok, err := us.Ed25519Key(); ok || err != nil {
		t.Fatalf("us-west has no key configured: ok %v, err %v", ok, err)
	}

	for name, bad := range map[string]string{
		"not base64": "not*base64",
		"31 bytes":   base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 31))),
		"url base64": base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("\xff", 32))),
	} {
		y := strings.Replace(threeRegions, "    opt_in: true\n", "    opt_in: true\n    public_key: "+bad+"\n", 1)
		_, err := Parse([]byte(y))
		if err == nil || !strings.Contains(err.Error(), "line 18: regions[2].public_key") || !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// A region list without keys keeps the fingerprint it had before keys existed, so that
// nodes of an older and a newer build agree on it; a key changes it.
func TestFingerprintWithPublicKeys(t *testing.T) {
	dep, err := Parse([]byte(threeRegions))
	if err != nil {
		t.Fatal(err)
	}
	const before = "85ef9a5ec692d8e1b0912f40126b2221756971f07669d1dbc9274a6bcaff55d9"
	if fp := dep.Fingerprint(); fp != before {
		t.Fatalf("fingerprint of a list without keys = %s, want %s as before", fp, before)
	}
	keyed := Deployment{Regions: append([]Region(nil), dep.Regions...)}
	keyed.Regions[0].PublicKey = testKey
	if keyed.Fingerprint() == before {
		t.Fatal("a public key left the fingerprint as it was")
	}
	other := Deployment{Regions: append([]Region(nil), keyed.Regions...)}
	other.Regions[0].PublicKey = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("j", 32)))
	if other.Fingerprint() == keyed.Fingerprint() {
		t.Fatal("another public key left the fingerprint as it was")
	}
}
