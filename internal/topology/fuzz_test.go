package topology

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParseDeployment feeds Parse operator input: it never panics, what it accepts
// validates, and it reads back what it would write, to the same fingerprint.
func FuzzParseDeployment(f *testing.F) {
	f.Add([]byte(threeRegions))
	f.Add([]byte("regions:\n  - {id: local, jurisdiction: ZZ, name: Local, location: {lat: 0, lng: 0}}\n"))
	f.Add([]byte("regions:\n  - id: us-west\n    jurisdiction: US\n    name: x\n    location: {lat: -0, lng: 1e308}\n"))
	f.Add([]byte("regions:\n  - {id: cn-lotus, jurisdiction: CN, name: Lotus, location: {lat: 39, lng: 116}, partner: lotus-bridge}\n"))
	f.Add([]byte("regions: &a [*a]\n"))
	f.Add([]byte("regions:\n  - id: us-west\n    zone: a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dep, err := Parse(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if err := dep.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		out, err := yaml.Marshal(dep)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse refused what it accepted, written back:\n%s\n%v", out, err)
		}
		if again.Fingerprint() != dep.Fingerprint() {
			t.Fatalf("written back, the fingerprint changed:\n%s", out)
		}
	})
}
