package policy

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"
)

func china(t testing.TB) *Policy {
	t.Helper()
	data, err := fs.ReadFile(Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Load("china-2020.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t.Add(12 * time.Hour)
}

var (
	cnFree     = Facts{AccountType: "individual", Country: "CN", BillingCountry: "CN", Plan: "free", Channel: "direct", Online: true}
	cnBusiness = Facts{AccountType: "business", Country: "CN", BillingCountry: "CN", Plan: "pro", Channel: "direct", Online: true}
	usFree     = Facts{AccountType: "individual", Country: "US", BillingCountry: "US", Plan: "free", Channel: "direct", Online: true}
)

func partnerIDs(d Decision) []string {
	var ids []string
	for _, a := range d.Alternatives {
		if a.Partner != nil {
			ids = append(ids, a.Partner.ID)
		}
	}
	return ids
}

func kinds(d Decision) []string {
	var ks []string
	for _, a := range d.Alternatives {
		ks = append(ks, a.Kind)
	}
	return ks
}

// The 2020 timeline: the same actions the day before and after each date.
func TestChina2020Timeline(t *testing.T) {
	p := china(t)
	partners := []string{"lotus-bridge", "jade-harbor", "red-lantern"}
	type want struct {
		allowed bool
		rule    string // "" for no rule
		code    string
	}
	cases := []struct {
		name string
		q    Question
		f    Facts
		at   map[string]want
	}{
		{"CN individual registers", QRegister, cnFree, map[string]want{
			"2020-04-30": {true, "", CodeAllowed},
			"2020-05-02": {false, "cn-register-business-only", "registration_business_only"},
			"2020-08-24": {false, "cn-register-business-only", "registration_business_only"},
		}},
		{"CN business registers", QRegister, cnBusiness, map[string]want{
			"2020-04-30": {true, "", CodeAllowed},
			"2020-05-02": {true, "", CodeAllowed},
		}},
		{"CN free account hosts", QHost, cnFree, map[string]want{
			"2020-04-30": {true, "", CodeAllowed},
			"2020-05-02": {false, "cn-host-free", "free_plan_cannot_host_cn"},
			"2020-08-22": {false, "cn-host-free", "free_plan_cannot_host_cn"},
			"2020-08-24": {false, "cn-host-free-partners", "free_plan_cannot_host_cn"},
		}},
		{"CN free account joins", QJoin, cnFree, map[string]want{
			"2020-04-30": {true, "", CodeAllowed},
			"2020-05-02": {true, "cn-join", CodeAllowed},
			"2020-08-24": {true, "cn-join", CodeAllowed},
		}},
		{"participant in CN enters a US meeting", QEnter, Facts{Country: "US", BillingCountry: "US", ParticipantCountry: "CN"}, map[string]want{
			"2020-08-24": {true, "cn-enter", CodeAllowed},
		}},
		{"CN paid account hosts: its subscription runs", QHost, cnBusiness, map[string]want{
			"2020-08-24": {true, "", CodeAllowed},
		}},
		{"CN billing buys online", QBuy, cnBusiness, map[string]want{
			"2020-04-30": {true, "", CodeAllowed},
			"2020-05-02": {false, "cn-buy-no-self-service", "self_service_closed_cn"},
			"2020-08-22": {false, "cn-buy-no-self-service", "self_service_closed_cn"},
			"2020-08-24": {false, "cn-buy-via-partner", "direct_sales_closed_cn"},
		}},
		{"CN billing buys from direct sales", QBuy, func() Facts { f := cnBusiness; f.Online = false; return f }(), map[string]want{
			"2020-05-02": {true, "", CodeAllowed},
			"2020-08-22": {true, "", CodeAllowed},
			"2020-08-24": {false, "cn-buy-via-partner", "direct_sales_closed_cn"},
		}},
		{"CN billing buys through a partner", QBuy, func() Facts {
			f := cnBusiness
			f.Channel, f.Partner, f.Online = "oem", "jade-harbor", false
			return f
		}(), map[string]want{
			"2020-08-24": {true, "", CodeAllowed},
		}},
		{"CN billing upgrades online", QUpgrade, cnBusiness, map[string]want{
			"2020-04-30": {true, "", CodeAllowed},
			"2020-05-02": {false, "cn-upgrade-no-self-service", "self_service_closed_cn"},
			"2020-08-24": {false, "cn-upgrade-via-partner", "direct_sales_closed_cn"},
		}},
		{"CN billing renews", QRenew, cnBusiness, map[string]want{
			"2020-08-22": {true, "", CodeAllowed},
			"2020-08-24": {false, "cn-renew-via-partner", "direct_renewal_closed_cn"},
		}},
		{"US person with a CN billing address buys", QBuy, func() Facts { f := usFree; f.BillingCountry = "CN"; return f }(), map[string]want{
			"2020-08-24": {false, "cn-buy-via-partner", "direct_sales_closed_cn"},
		}},
	}
	// A US user is unaffected by every rule on every date.
	for _, q := range []Question{QRegister, QHost, QJoin, QBuy, QUpgrade, QRenew, QEnter} {
		cases = append(cases, struct {
			name string
			q    Question
			f    Facts
			at   map[string]want
		}{"US user " + q.String(), q, usFree, map[string]want{
			"2020-04-30": {true, "", CodeAllowed}, "2020-05-02": {true, "", CodeAllowed},
			"2020-08-22": {true, "", CodeAllowed}, "2020-08-24": {true, "", CodeAllowed},
		}})
	}
	for _, c := range cases {
		for date, w := range c.at {
			d := Decide(p, c.q, c.f, day(date))
			if d.Allowed != w.allowed || d.RuleID != w.rule || d.Code != w.code || d.PolicyVersion != "china-2020.1" {
				t.Errorf("%s on %s: got %+v, want %+v", c.name, date, d, w)
				continue
			}
			if !d.Allowed {
				r := ruleByID(p, w.rule)
				if d.Jurisdiction != "CN" || !d.EffectiveFrom.Equal(r.EffectiveFrom) || d.Reason != r.Message || len(d.Alternatives) == 0 {
					t.Errorf("%s on %s: refusal does not name its rule, jurisdiction, date, message and alternatives: %+v", c.name, date, d)
				}
				if strings.Contains(w.rule, "via-partner") && !slices.Equal(partnerIDs(d), partners) {
					t.Errorf("%s on %s: sent to %v, want the partners %v", c.name, date, partnerIDs(d), partners)
				}
			}
		}
	}
}

func ruleByID(p *Policy, id string) *Rule {
	for _, r := range p.Rules {
		if r.ID == id {
			return r
		}
	}
	panic("no rule " + id)
}

// A free CN user on 2020-05-02 may join, and is told why hosting is refused and what to do.
func TestChinaFreeUserIsToldWhy(t *testing.T) {
	p := china(t)
	at := day("2020-05-02")
	if d := Join(p, cnFree, at); !d.Allowed {
		t.Fatalf("join: %+v", d)
	}
	d := MayHost(HostFacts{PlanAllowsHosting: true, Policy: p, Facts: cnFree}, at)
	want := "Free accounts in mainland China can join meetings but can no longer host them " +
		"(rule cn-host-free of jurisdiction CN, in effect since 2020-05-01). " +
		"Instead: you can still join meetings that others host; buy through our sales team instead of online."
	if d.Allowed || d.Code != "free_plan_cannot_host_cn" || d.Explain() != want {
		t.Errorf("host: %+v\n%q\nwant %q", d, d.Explain(), want)
	}
	// On 2020-08-24 a CN billing address is sent to the partners, with their contacts.
	d = Buy(p, cnBusiness, day("2020-08-24"))
	for _, c := range []string{"Lotus Bridge Networks (fictional) (authorized partner): https://lotus-bridge.example.com/meetings, sales@lotus-bridge.example.com, +86 10 0000 0101",
		"Jade Harbor Communications (fictional)", "business@jade-harbor.test", "red-lantern.example.com", "in effect since 2020-08-23"} {
		if !strings.Contains(d.Explain(), c) {
			t.Errorf("buy on 2020-08-24: %q lacks %q", d.Explain(), c)
		}
	}
	if !slices.Equal(kinds(d), []string{AltPartner, AltPartner, AltPartner}) {
		t.Errorf("buy alternatives: %v", kinds(d))
	}
}

// MayHost without a policy keeps its plan checks; with one, the plan checks come first.
func TestMayHostWithPolicy(t *testing.T) {
	p := china(t)
	at := day("2020-05-02")
	if d := MayHost(HostFacts{PlanAllowsHosting: true, Facts: cnFree}, at); !d.Allowed {
		t.Errorf("no policy: %+v", d)
	}
	if d := MayHost(HostFacts{PlanAllowsHosting: false, Policy: p, Facts: cnFree}, at); d.Code != CodePlanCannotHost {
		t.Errorf("plan first: %+v", d)
	}
	if d := MayHost(HostFacts{PlanAllowsHosting: true, Policy: p, Facts: usFree}, at); !d.Allowed || d.Code != CodeAllowed {
		t.Errorf("US: %+v", d)
	}
}

func TestChangeRegions(t *testing.T) {
	p := china(t)
	at := day("2020-08-24")
	cases := []struct {
		name string
		f    Facts
		code string
	}{
		{"CN account keeps its data in cn-east", Facts{Country: "CN", Region: "cn-east", HomeRegion: "cn-east"}, CodeAllowed},
		{"CN account moves its data to us-east", Facts{Country: "CN", Region: "us-east", HomeRegion: "us-east"}, "data_residency_cn"},
		{"US account uses cn-east without opting in", Facts{Country: "US", Region: "cn-east", HomeRegion: "us-east"}, "region_opt_in_required"},
		{"US account uses cn-east, opted in", Facts{Country: "US", Region: "cn-east", HomeRegion: "us-east", OptedIn: true}, CodeAllowed},
		{"US account uses us-west", Facts{Country: "US", Region: "us-west", HomeRegion: "us-east"}, CodeAllowed},
	}
	for _, c := range cases {
		d := ChangeRegions(p, c.f, at)
		if d.Code != c.code || d.Allowed != (c.code == CodeAllowed) {
			t.Errorf("%s: %+v", c.name, d)
		}
		if !d.Allowed && !strings.Contains(d.Explain(), map[string]string{
			"data_residency_cn":      "Instead: keep the account's data in cn-east.",
			"region_opt_in_required": "Instead: opt in to the region in the account's settings.",
		}[d.Code]) {
			t.Errorf("%s: %q", c.name, d.Explain())
		}
	}
	if got := p.Residency("CN"); !slices.Equal(got, []string{"cn-east"}) {
		t.Errorf("residency CN: %v", got)
	}
	if !p.OptInRequired("cn-east", "US") || p.OptInRequired("cn-east", "CN") || p.OptInRequired("us-east", "CN") {
		t.Error("OptInRequired")
	}
}

const precedencePolicy = `version: "1"
jurisdictions:
  - {code: XA, name: Example A, countries: [XA]}
  - {code: XB, name: Example B, countries: [XB]}
rules:
  - {id: a-allow, jurisdiction: XA, question: host, effect: allow, effective_from: 2020-01-01, reason_code: ok, message: allowed}
  - {id: a-old, jurisdiction: XA, question: host, effect: deny, effective_from: 2020-01-01, condition: facts.plan == "free", reason_code: old, message: old}
  - {id: a-new, jurisdiction: XA, question: host, effect: deny, effective_from: 2020-03-01, condition: facts.plan != "", reason_code: new, message: new}
  - {id: b-deny, jurisdiction: XB, question: host, effect: deny, effective_from: 2020-03-01, condition: facts.online, reason_code: b, message: b}
  - {id: b-until, jurisdiction: XB, question: join, effect: deny, effective_from: 2020-03-01, effective_until: "2020-04-01T00:00:00Z", reason_code: b, message: b}
`

// Deny beats allow; the latest effective refusal wins; ties go to the first in the document,
// across jurisdictions too; until is exclusive.
func TestPrecedence(t *testing.T) {
	p, err := Load("p.yaml", []byte(precedencePolicy))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		q    Question
		f    Facts
		at   string
		rule string
	}{
		{QHost, Facts{Country: "XA"}, "2020-02-01", "a-allow"},
		{QHost, Facts{Country: "XA", Plan: "free"}, "2020-02-01", "a-old"},
		{QHost, Facts{Country: "XA", Plan: "free"}, "2020-03-02", "a-new"},
		{QHost, Facts{Country: "XA", BillingCountry: "XB", Plan: "free", Online: true}, "2020-03-02", "a-new"},
		{QHost, Facts{Country: "XB", BillingCountry: "XA", Plan: "free", Online: true}, "2020-03-02", "a-new"},
		{QJoin, Facts{Country: "XB"}, "2020-03-31", "b-until"},
		{QJoin, Facts{Country: "XB"}, "2020-04-01", ""},
	}
	for _, c := range cases {
		at := day(c.at)
		if c.at == "2020-04-01" {
			at = day(c.at).Add(-12 * time.Hour)
		}
		if d := Host(p, c.f, at); c.q == QHost && d.RuleID != c.rule {
			t.Errorf("%+v at %s: %+v, want rule %s", c.f, c.at, d, c.rule)
		}
		if d := Join(p, c.f, at); c.q == QJoin && d.RuleID != c.rule {
			t.Errorf("join %+v at %s: %+v, want rule %q", c.f, c.at, d, c.rule)
		}
	}
}

// A condition that fails at evaluation refuses (fails closed); facts no rule names compare
// as themselves.
func TestConditionEvaluation(t *testing.T) {
	p, err := Load("e.yaml", []byte(`version: "1"
jurisdictions: [{code: XA, name: Example A, countries: [XA]}]
rules:
  - {id: e1, jurisdiction: XA, question: host, effect: deny, effective_from: 2020-01-01, condition: 1 / facts.plan.size() == 1, reason_code: x, message: x}
  - {id: e2, jurisdiction: XA, question: join, effect: deny, effective_from: 2020-01-01, condition: facts.plan == facts.partner, reason_code: same, message: same}
`))
	if err != nil {
		t.Fatal(err)
	}
	at := day("2020-02-01")
	if d := Host(p, Facts{Country: "XA"}, at); d.Allowed || d.Code != CodePolicyError || d.RuleID != "e1" {
		t.Errorf("division by zero: %+v", d)
	}
	if d := Decide(p, numQuestions, Facts{Country: "XA"}, at); d.Allowed || d.Code != CodePolicyError {
		t.Errorf("unknown question: %+v", d)
	}
	if d := Host(p, Facts{Country: "XA", Plan: "free"}, at); !d.Allowed {
		t.Errorf("plan free: %+v", d)
	}
	if d := Join(p, Facts{Country: "XA", Plan: "qq", Partner: "qq"}, at); d.Allowed || d.Code != "same" {
		t.Errorf("equal unnamed facts: %+v", d)
	}
	if d := Join(p, Facts{Country: "XA", Plan: "qq", Partner: "rr"}, at); !d.Allowed {
		t.Errorf("different unnamed facts: %+v", d)
	}
}

// One policy decides for many goroutines at once (its activations are pooled).
func TestConcurrentDecisions(t *testing.T) {
	p := china(t)
	done := make(chan Decision)
	for i := range 8 {
		go func() {
			var last Decision
			for range 200 {
				if i%2 == 0 {
					last = Host(p, cnFree, day("2020-05-02"))
				} else {
					last = Host(p, cnBusiness, day("2020-05-02"))
				}
			}
			done <- last
		}()
	}
	refused := 0
	for range 8 {
		if d := <-done; !d.Allowed {
			refused++
		}
	}
	if refused != 4 {
		t.Errorf("%d of 8 refused, want the 4 free accounts", refused)
	}
}
