package policy

import (
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
)

// Question is what a decision answers.
type Question uint8

// The questions a rule can answer, one decision function each.
const (
	QRegister Question = iota
	QHost
	QJoin
	QBuy
	QUpgrade
	QRenew
	QChangeRegions
	QEnter
	numQuestions
)

func (q Question) String() string {
	switch q {
	case QRegister:
		return "register"
	case QHost:
		return "host"
	case QJoin:
		return "join"
	case QBuy:
		return "buy"
	case QUpgrade:
		return "upgrade"
	case QRenew:
		return "renew"
	case QChangeRegions:
		return "change_regions"
	case QEnter:
		return "enter"
	}
	return "unknown"
}

// ParseQuestion is the inverse of Question.String.
func ParseQuestion(s string) (Question, bool) {
	for q := range numQuestions {
		if q.String() == s {
			return q, true
		}
	}
	return 0, false
}

// Effect is what a rule does when it applies.
type Effect string

// Effects.
const (
	// EffectAllow names the rule that allowed a decision; it never overrides a refusal.
	EffectAllow Effect = "allow"
	// EffectDeny refuses.
	EffectDeny Effect = "deny"
	// EffectRequire refuses unless the rule's requirement holds for the facts.
	EffectRequire Effect = "require"
)

// Requirement is what a require rule demands of the facts.
type Requirement string

// Requirements.
const (
	// RequireBusiness holds for business accounts.
	RequireBusiness Requirement = "business_only"
	// RequireViaPartner holds for accounts sold through a partner (OEM or reseller) that
	// serves the rule's jurisdiction.
	RequireViaPartner Requirement = "via_partner"
	// RequireAssisted holds when the action is not online self-service (a sales person or
	// a partner does it).
	RequireAssisted Requirement = "assisted"
	// RequireResidency holds when the home region (where data at rest lives) is one of
	// the jurisdiction's residency regions, or the jurisdiction names none.
	RequireResidency Requirement = "data_residency"
	// RequireOptIn holds unless the region asked for is one of the jurisdiction's opt-in
	// regions, the account is from elsewhere, and it has not opted in.
	RequireOptIn Requirement = "opt_in"
)

// Alternative kinds.
const (
	AltPartner   = "partner"
	AltJoinOnly  = "join_only"
	AltBusiness  = "business_account"
	AltSales     = "contact_sales"
	AltOptIn     = "opt_in"
	AltResidency = "residency_regions"
)

// Policy is a loaded, validated and compiled policy document. It is immutable and safe
// for concurrent use.
type Policy struct {
	// Name is the file it was loaded from, for messages.
	Name          string
	Version       string
	Jurisdictions []Jurisdiction
	Partners      []*Partner
	Rules         []*Rule

	jurByCode    map[string]int
	jurByCountry map[string]int
	jurByRegion  map[string]int
	partnerByID  map[string]*Partner
	// index holds, per jurisdiction and question, its rules latest effective first
	// (document order among equals): the order of precedence.
	index [][numQuestions][]*Rule
	// interned holds CEL values of strings the rules compare with, so that resolving a
	// fact to one of them allocates nothing.
	interned map[string]ref.Val
	acts     sync.Pool
}

// Jurisdiction is a legal area: countries, the regions (data centers) in it, where its
// accounts' data at rest must live, and which of its regions accounts from elsewhere must
// opt in to.
type Jurisdiction struct {
	Code      string
	Name      string
	Countries []string
	Regions   []string
	// Residency lists the regions where data at rest of its accounts must live; empty
	// means anywhere.
	Residency []string
	// OptInRegions are regions accounts from other jurisdictions use only if they opt in.
	OptInRegions []string
	// Partners serving it, in document order.
	Partners []*Partner
}

// Partner is an authorized OEM partner or reseller.
type Partner struct {
	ID            string
	Kind          string // "oem" or "reseller"
	Name          string
	Jurisdictions []string
	Contact       Contact
}

// Contact is how people reach a partner.
type Contact struct {
	URL   string `json:"url,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Alternative is something a refused person can do instead.
type Alternative struct {
	Kind string // AltPartner, AltJoinOnly, AltBusiness or AltSales
	// Text says it in plain words, with the partner's contacts for a partner.
	Text string
	// Partner is set for AltPartner.
	Partner *Partner
}

// Rule is one effective-dated rule of a jurisdiction.
type Rule struct {
	ID           string
	Jurisdiction string
	Question     Question
	Effect       Effect
	Requires     Requirement
	// EffectiveFrom is inclusive; EffectiveUntil is exclusive, zero for open-ended.
	EffectiveFrom  time.Time
	EffectiveUntil time.Time
	ReasonCode     string
	Message        string
	Alternatives   []Alternative
	// Condition is the CEL source, empty for a rule that applies to all facts.
	Condition string
	// Line is where the rule starts in its file.
	Line int

	order int // position in the document, for deterministic precedence
	jur   int
	prg   cel.Program
}

// InEffect reports whether the rule is in effect at t: EffectiveFrom <= t < EffectiveUntil.
func (r *Rule) InEffect(t time.Time) bool {
	return !t.Before(r.EffectiveFrom) && (r.EffectiveUntil.IsZero() || t.Before(r.EffectiveUntil))
}

// Jurisdiction returns the jurisdiction with the code.
func (p *Policy) Jurisdiction(code string) (*Jurisdiction, bool) {
	i, ok := p.jurByCode[code]
	if !ok {
		return nil, false
	}
	return &p.Jurisdictions[i], true
}

// JurisdictionOf returns the jurisdiction a country (ISO 3166-1 alpha-2) belongs to.
func (p *Policy) JurisdictionOf(country string) (*Jurisdiction, bool) {
	i, ok := p.jurByCountry[country]
	if !ok {
		return nil, false
	}
	return &p.Jurisdictions[i], true
}

// Partner returns the partner with the id.
func (p *Policy) Partner(id string) (*Partner, bool) {
	pt, ok := p.partnerByID[id]
	return pt, ok
}

// Residency returns the regions where data at rest of an account from country must live,
// nil when anywhere.
func (p *Policy) Residency(country string) []string {
	if j, ok := p.JurisdictionOf(country); ok {
		return j.Residency
	}
	return nil
}

// OptInRequired reports whether an account from country must opt in to use region.
func (p *Policy) OptInRequired(region, country string) bool {
	i, ok := p.jurByRegion[region]
	if !ok {
		return false
	}
	if c, ok := p.jurByCountry[country]; ok && c == i {
		return false
	}
	for _, r := range p.Jurisdictions[i].OptInRegions {
		if r == region {
			return true
		}
	}
	return false
}
