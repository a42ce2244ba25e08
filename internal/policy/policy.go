// Package policy makes the product's permission decisions as pure functions: facts and a
// clock in, a decision with its reason out. It does no I/O (a policy is loaded from bytes the
// caller read) and reads no clock, so every rule is testable with a fixed time and every
// decision can be logged with why it was made.
//
// Two kinds of decision live here. MayHost is the plan check every meeting start asks. The
// jurisdiction rules (who may register, host, join, buy, upgrade, renew, change regions or
// enter a meeting, where, from when, and through whom) are data: a versioned policy document
// (YAML, see docs/policy.md) of jurisdictions, authorized partners and effective-dated rules
// with optional CEL conditions, compiled and type-checked by Load. Register, Host, Join, Buy,
// Upgrade, Renew, ChangeRegions and Enter decide one question each against a *Policy; Diff
// and Replay show what a new policy would change before it is activated.
package policy

import "time"

// Decision is the outcome of a policy question. A refusal by a jurisdiction rule names the
// rule, its jurisdiction and effective date, and what the person can do instead.
type Decision struct {
	Allowed bool
	// Code is stable, for clients and the audit trail; Reason is for people.
	Code   string
	Reason string
	// RuleID names the jurisdiction rule that decided, empty when none did (the plan
	// checks, or no rule applies).
	RuleID string
	// Jurisdiction is the code of the rule's jurisdiction.
	Jurisdiction string
	// EffectiveFrom is when the rule took effect.
	EffectiveFrom time.Time
	// Alternatives are what the person can do instead of what was refused. The slice
	// belongs to the policy and is shared by every decision it makes: read it, do not
	// modify it.
	Alternatives []Alternative
	// PolicyVersion is the version of the policy that decided, empty for the plan checks.
	PolicyVersion string
}

// Decision codes that are not a rule's own reason code.
const (
	CodeAllowed         = "allowed"
	CodePlanCannotHost  = "plan_cannot_host"
	CodeAccountDisabled = "account_disabled"
	// CodePolicyError is a condition that failed to evaluate: the decision fails closed.
	CodePolicyError = "policy_error"
)

// HostFacts are what decides whether a user may start a meeting.
type HostFacts struct {
	// PlanAllowsHosting is the plan's Host entitlement.
	PlanAllowsHosting bool
	// AccountDisabled is set for a suspended or closed account.
	AccountDisabled bool
	// Policy, when set, is the jurisdiction policy to consult with Facts after the plan
	// checks pass. Nil keeps the plan checks alone.
	Policy *Policy
	// Facts are the account's facts for the jurisdiction rules (country, billing country,
	// plan, account type, channel).
	Facts Facts
}

// MayHost decides whether a user may start (host) a meeting now. It is the one place that
// decides it: the account and plan first, then the jurisdiction rules of the facts' policy.
func MayHost(f HostFacts, now time.Time) Decision {
	switch {
	case f.AccountDisabled:
		return Decision{Code: CodeAccountDisabled, Reason: "the account is disabled"}
	case !f.PlanAllowsHosting:
		return Decision{Code: CodePlanCannotHost, Reason: "the account's plan does not include hosting meetings; upgrade to host"}
	}
	ok := Decision{Allowed: true, Code: CodeAllowed, Reason: "the plan includes hosting"}
	if f.Policy != nil {
		d := Host(f.Policy, f.Facts, now)
		if !d.Allowed {
			return d
		}
		// The allow names the rule and version that decided, as Host's, so that the
		// decision log can replay it.
		ok.RuleID, ok.Jurisdiction, ok.EffectiveFrom, ok.PolicyVersion = d.RuleID, d.Jurisdiction, d.EffectiveFrom, d.PolicyVersion
	}
	return ok
}
