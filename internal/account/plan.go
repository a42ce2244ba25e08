// Package account owns accounts (tenants), their users and roles (members of business
// accounts and their invitations, docs/accounts.md), plans and the entitlements a plan
// grants, and password hashing. It does no I/O of its own beyond what its store is
// given.
package account

import (
	"fmt"
	"time"
)

// Plan is what an account pays for.
type Plan string

// Plans, cheapest first.
const (
	Free       Plan = "free"
	Pro        Plan = "pro"
	Business   Plan = "business"
	Enterprise Plan = "enterprise"
)

// Entitlements are what a plan allows. Whether an account may actually host also depends on
// where and when (jurisdiction rules, later): that decision is policy.MayHost, which takes
// these as one of its facts.
type Entitlements struct {
	// Host: the plan lets its users start meetings.
	Host bool
	// MaxParticipants in one meeting, host included.
	MaxParticipants int
	// MaxMeetingLength ends a meeting after this long; 0 means no limit.
	MaxMeetingLength time.Duration
	// CloudRecording: meetings may be recorded to the home region.
	CloudRecording bool
	// RegionSelection: the account chooses which data-center regions carry its meetings;
	// without it (the free plan), meetings stay in the home region. Every paid plan has it.
	RegionSelection bool
}

// EntitlementsOf returns the entitlements of a plan.
func EntitlementsOf(p Plan) (Entitlements, error) {
	switch p {
	case Free:
		return Entitlements{Host: true, MaxParticipants: 100, MaxMeetingLength: 40 * time.Minute}, nil
	case Pro:
		return Entitlements{Host: true, MaxParticipants: 100, MaxMeetingLength: 30 * time.Hour, CloudRecording: true, RegionSelection: true}, nil
	case Business:
		return Entitlements{Host: true, MaxParticipants: 300, MaxMeetingLength: 30 * time.Hour, CloudRecording: true, RegionSelection: true}, nil
	case Enterprise:
		return Entitlements{Host: true, MaxParticipants: 1000, MaxMeetingLength: 30 * time.Hour, CloudRecording: true, RegionSelection: true}, nil
	}
	return Entitlements{}, fmt.Errorf("account: unknown plan %q", p)
}
