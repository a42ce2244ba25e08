package token

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRegionsClaimRoundTrips(t *testing.T) {
	iss := NewIssuer([]byte(strings.Repeat("k", 32)), nil)
	tok, err := iss.Mint("r", "a", "", Grants{Subscribe: true, Regions: []string{"eu-central", "us-west"}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := iss.Verify(tok); err != nil || !slices.Equal(c.Regions, []string{"eu-central", "us-west"}) {
		t.Fatalf("claims %+v, %v", c, err)
	}
}
