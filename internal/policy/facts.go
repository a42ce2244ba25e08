package policy

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// Facts are what a decision is made from. Each field is a CEL variable of a rule's
// condition, named facts.<name> as in its comment; a question reads the fields it needs
// and leaves the others zero. Countries are ISO 3166-1 alpha-2 codes ("CN", "US").
type Facts struct {
	AccountType        string // facts.account_type: "individual" or "business"
	Country            string // facts.country: of the person's (or account's) address
	BillingCountry     string // facts.billing_country
	Plan               string // facts.plan: the plan's id, e.g. "free"
	Channel            string // facts.channel: "direct", "oem" or "reseller"
	Partner            string // facts.partner: the partner's id for channel oem or reseller
	Online             bool   // facts.online: online self-service, not a sales person or partner
	ParticipantCountry string // facts.participant_country: where a participant enters from
	Region             string // facts.region: the region asked about (change_regions)
	HomeRegion         string // facts.home_region: where the account's data at rest lives
	OptedIn            bool   // facts.opted_in: the account opted in to Region
}

// factNames are the facts' CEL names, after "facts.".
func factNames() []string {
	return []string{"account_type", "country", "billing_country", "plan", "channel", "partner",
		"online", "participant_country", "region", "home_region", "opted_in"}
}

// celEnv declares the facts as typed CEL variables, so that a condition naming an unknown
// fact, or comparing one with a value of another type, is refused when the policy loads.
func celEnv() (*cel.Env, error) {
	var opts []cel.EnvOption
	for _, name := range factNames() {
		t := cel.StringType
		if name == "online" || name == "opted_in" {
			t = cel.BoolType
		}
		opts = append(opts, cel.Variable("facts."+name, t))
	}
	return cel.NewEnv(opts...)
}

// activation resolves the facts for CEL. It is pooled per policy and resolves string facts
// to the policy's interned values, so that evaluating a condition allocates nothing for
// the strings rules compare with.
type activation struct {
	f        Facts
	interned map[string]ref.Val
}

func (a *activation) str(s string) ref.Val {
	if v, ok := a.interned[s]; ok {
		return v
	}
	return types.String(s)
}

func (a *activation) ResolveName(name string) (any, bool) {
	f := &a.f
	switch name {
	case "facts.account_type":
		return a.str(f.AccountType), true
	case "facts.country":
		return a.str(f.Country), true
	case "facts.billing_country":
		return a.str(f.BillingCountry), true
	case "facts.plan":
		return a.str(f.Plan), true
	case "facts.channel":
		return a.str(f.Channel), true
	case "facts.partner":
		return a.str(f.Partner), true
	case "facts.participant_country":
		return a.str(f.ParticipantCountry), true
	case "facts.region":
		return a.str(f.Region), true
	case "facts.home_region":
		return a.str(f.HomeRegion), true
	case "facts.online":
		return types.Bool(f.Online), true
	case "facts.opted_in":
		return types.Bool(f.OptedIn), true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
