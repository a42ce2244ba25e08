// Package policy makes the product's permission decisions as pure functions: facts and a
// clock in, a decision with its reason out. It does no I/O, so every rule is testable with a
// fixed clock, and every decision can be logged with why it was made. Jurisdiction rules
// (who may register, host or buy where, and from when) will join the facts here.
package policy

import "time"

// Decision is the outcome of a policy question.
type Decision struct {
	Allowed bool
	// Code is stable, for clients and the audit trail; Reason is for people.
	Code   string
	Reason string
}

// Decision codes.
const (
	CodeAllowed         = "allowed"
	CodePlanCannotHost  = "plan_cannot_host"
	CodeAccountDisabled = "account_disabled"
)

// HostFacts are what decides whether a user may start a meeting.
type HostFacts struct {
	// PlanAllowsHosting is the plan's Host entitlement.
	PlanAllowsHosting bool
	// AccountDisabled is set for a suspended or closed account.
	AccountDisabled bool
}

// MayHost decides whether a user may start (host) a meeting now. It is the one place that
// decides it.
func MayHost(f HostFacts, now time.Time) Decision {
	_ = now // jurisdiction rules are effective-dated; none exist yet
	switch {
	case f.AccountDisabled:
		return Decision{Code: CodeAccountDisabled, Reason: "the account is disabled"}
	case !f.PlanAllowsHosting:
		return Decision{Code: CodePlanCannotHost, Reason: "the account's plan does not include hosting meetings; upgrade to host"}
	}
	return Decision{Allowed: true, Code: CodeAllowed, Reason: "the plan includes hosting"}
}
