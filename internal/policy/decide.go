package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/common/types"
)

// Register decides whether a person may create an account: Facts.AccountType, Country and
// BillingCountry.
func Register(p *Policy, f Facts, now time.Time) Decision { return Decide(p, QRegister, f, now) }

// Host decides, by the jurisdiction rules alone, whether an account may host meetings. The
// plan's own entitlement is MayHost's.
func Host(p *Policy, f Facts, now time.Time) Decision { return Decide(p, QHost, f, now) }

// Join decides whether an account may join meetings others host.
func Join(p *Policy, f Facts, now time.Time) Decision { return Decide(p, QJoin, f, now) }

// Buy decides whether a new subscription may be sold: BillingCountry, Channel (and
// Partner), Online for self-service.
func Buy(p *Policy, f Facts, now time.Time) Decision { return Decide(p, QBuy, f, now) }

// Upgrade decides whether an existing subscription may move to a bigger plan.
func Upgrade(p *Policy, f Facts, now time.Time) Decision { return Decide(p, QUpgrade, f, now) }

// Renew decides whether an existing subscription may renew.
func Renew(p *Policy, f Facts, now time.Time) Decision { return Decide(p, QRenew, f, now) }

// ChangeRegions decides whether an account may use Facts.Region, with its data at rest in
// Facts.HomeRegion.
func ChangeRegions(p *Policy, f Facts, now time.Time) Decision {
	return Decide(p, QChangeRegions, f, now)
}

// Enter decides whether a participant from Facts.ParticipantCountry may enter a meeting of
// the account the other facts describe.
func Enter(p *Policy, f Facts, now time.Time) Decision { return Decide(p, QEnter, f, now) }

// Decide answers question q for the facts at now. The rules consulted are those of q in
// the jurisdictions the facts touch (of Country, BillingCountry, ParticipantCountry and
// Region), in effect at now, whose condition holds. Of those, a refusal (a deny, or a
// require whose requirement the facts do not meet) beats any allow; among refusals the
// latest effective wins, then the first in the document. Without a refusal the decision is
// allowed, naming the allow rule that would have won the same way, if any. A nil policy has
// no rules. A condition that fails to evaluate, or an unknown question, refuses (fails
// closed) with CodePolicyError.
//
// Decide allocates nothing unless a condition compares a fact with a string no rule or
// jurisdiction names, or fails.
func Decide(p *Policy, q Question, f Facts, now time.Time) Decision {
	if q >= numQuestions {
		return Decision{Code: CodePolicyError, Reason: fmt.Sprintf("unknown question %d", q)}
	}
	if p == nil {
		return Decision{Allowed: true, Code: CodeAllowed, Reason: "no policy restricts this"}
	}
	var js [4]int
	n := 0
	for _, m := range [...]struct {
		idx map[string]int
		key string
	}{{p.jurByCountry, f.Country}, {p.jurByCountry, f.BillingCountry}, {p.jurByCountry, f.ParticipantCountry}, {p.jurByRegion, f.Region}} {
		if m.key == "" {
			continue
		}
		if j, ok := m.idx[m.key]; ok && !slices.Contains(js[:n], j) {
			js[n] = j
			n++
		}
	}
	var refusal, allow *Rule
	var act *activation
	defer func() {
		if act != nil {
			act.f = Facts{} // the pool keeps no one's facts
			p.acts.Put(act)
		}
	}()
	for _, j := range js[:n] {
		for _, r := range p.index[j][q] {
			if refusal != nil && precedes(refusal, r) < 0 {
				break // the rest come after r: none can win
			}
			if !r.InEffect(now) || (r.Effect == EffectAllow && (refusal != nil || (allow != nil && precedes(allow, r) < 0))) {
				continue
			}
			if r.prg != nil {
				if act == nil {
					act = p.acts.Get().(*activation)
					act.f = f
				}
				out, _, err := r.prg.Eval(act)
				if err != nil {
					return Decision{Code: CodePolicyError, Reason: fmt.Sprintf("rule %q could not be evaluated: %v", r.ID, err),
						RuleID: r.ID, Jurisdiction: r.Jurisdiction, EffectiveFrom: r.EffectiveFrom, PolicyVersion: p.Version}
				}
				if b, ok := out.(types.Bool); !ok || !bool(b) {
					continue
				}
			}
			switch {
			case r.Effect == EffectAllow:
				allow = r
			case r.Effect == EffectDeny || !p.satisfied(r, &f):
				refusal = r
			}
		}
	}
	switch {
	case refusal != nil:
		return Decision{Code: refusal.ReasonCode, Reason: refusal.Message, RuleID: refusal.ID, Jurisdiction: refusal.Jurisdiction,
			EffectiveFrom: refusal.EffectiveFrom, Alternatives: refusal.Alternatives, PolicyVersion: p.Version}
	case allow != nil:
		return Decision{Allowed: true, Code: CodeAllowed, Reason: allow.Message, RuleID: allow.ID, Jurisdiction: allow.Jurisdiction,
			EffectiveFrom: allow.EffectiveFrom, PolicyVersion: p.Version}
	}
	return Decision{Allowed: true, Code: CodeAllowed, Reason: "no rule restricts this", PolicyVersion: p.Version}
}

// satisfied reports whether the facts meet a require rule's requirement.
func (p *Policy) satisfied(r *Rule, f *Facts) bool {
	j := &p.Jurisdictions[r.jur]
	switch r.Requires {
	case RequireBusiness:
		return f.AccountType == "business"
	case RequireViaPartner:
		pt, ok := p.partnerByID[f.Partner]
		return ok && pt.Kind == f.Channel && slices.Contains(pt.Jurisdictions, j.Code)
	case RequireAssisted:
		return !f.Online
	case RequireResidency:
		return len(j.Residency) == 0 || slices.Contains(j.Residency, f.HomeRegion)
	case RequireOptIn:
		if f.OptedIn || !slices.Contains(j.OptInRegions, f.Region) {
			return true
		}
		c, ok := p.jurByCountry[f.Country]
		return ok && c == r.jur
	}
	return false // an unknown requirement cannot load; fail closed all the same
}

// Explain says a decision in plain words: for a refusal, why, by which rule of which
// jurisdiction since when, and what the person can do instead.
func (d Decision) Explain() string {
	if d.Allowed || d.RuleID == "" {
		return d.Reason
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (rule %s of jurisdiction %s, in effect since %s)", strings.TrimSuffix(d.Reason, "."), d.RuleID, d.Jurisdiction, d.EffectiveFrom.Format(time.DateOnly))
	for i, a := range d.Alternatives {
		if i == 0 {
			b.WriteString(". Instead: ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(a.Text)
	}
	b.WriteString(".")
	return b.String()
}
