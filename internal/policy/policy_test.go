package policy

import (
	"testing"
	"time"
)

func TestMayHost(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		facts HostFacts
		code  string
	}{
		{HostFacts{PlanAllowsHosting: true}, CodeAllowed},
		{HostFacts{PlanAllowsHosting: false}, CodePlanCannotHost},
		{HostFacts{PlanAllowsHosting: true, AccountDisabled: true}, CodeAccountDisabled},
	}
	for _, c := range cases {
		d := MayHost(c.facts, now)
		if d.Code != c.code || d.Allowed != (c.code == CodeAllowed) || d.Reason == "" {
			t.Errorf("%+v: %+v", c.facts, d)
		}
	}
}
