package account

import (
	"context"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

// checkCountries checks the sign-up's countries: ISO 3166-1 alpha-2 shapes, upper-cased,
// the billing country defaulting to the person's. While a policy is running the country is
// required, so that leaving it out cannot pass a rule by (fail closed).
func (s *Service) checkCountries(country, billing string) (string, string, error) {
	country, billing = strings.ToUpper(strings.TrimSpace(country)), strings.ToUpper(strings.TrimSpace(billing))
	if billing == "" {
		billing = country
	}
	for _, c := range []struct{ what, v string }{{"country", country}, {"billing country", billing}} {
		if c.v != "" && !countryShaped(c.v) {
			return "", "", invalid(c.what + " must be a two-letter ISO 3166-1 code such as US or CN")
		}
	}
	if country == "" && s.runningPolicy() != nil {
		return "", "", invalid("the country of your address is required")
	}
	return country, billing, nil
}

func countryShaped(c string) bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

func (s *Service) runningPolicy() *policy.Policy {
	if s.policy == nil {
		return nil
	}
	return s.policy.Policy()
}

// decideRegister asks the jurisdiction policy whether this person may open an account. A
// refusal is audited with its rule and returned with the decision.
func (s *Service) decideRegister(ctx context.Context, accountType, country, billing, clientIP string, now time.Time) error {
	f := policy.Facts{AccountType: accountType, Country: country, BillingCountry: billing}
	d := policy.Register(s.runningPolicy(), f, now)
	if s.decided != nil {
		s.decided.Record(ctx, decisionlog.Made{Question: policy.QRegister, Facts: f, Decision: d, At: now, Anonymous: true})
	}
	if d.Allowed {
		return nil
	}
	s.refused(ctx, clientIP, "anonymous", "account.sign_up", "", d.Code,
		"rule="+d.RuleID+" jurisdiction="+d.Jurisdiction+" policy="+d.PolicyVersion+" ip="+clientIP)
	return &Error{Code: d.Code, Message: d.Explain(), Decision: &d}
}

// PolicyFacts are an account's facts for the jurisdiction rules: its type, countries, plan
// and channel. A channel other than direct is a partner's id; its kind (oem or reseller) is
// the policy's partner's, and a partner the policy does not know counts as direct, so that
// no rule requiring a partner is met by an unknown one.
func PolicyFacts(p *policy.Policy, a store.Account) policy.Facts {
	f := policy.Facts{AccountType: a.Type, Country: a.Country, BillingCountry: a.BillingCountry, Plan: a.Plan, Channel: "direct",
		HomeRegion: a.Region}
	if a.Channel != "" && a.Channel != "direct" && p != nil {
		if pt, ok := p.Partner(a.Channel); ok {
			f.Channel, f.Partner = pt.Kind, pt.ID
		}
	}
	return f
}
