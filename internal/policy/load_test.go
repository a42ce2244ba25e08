package policy

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

const goodPolicy = `version: "2"
jurisdictions:
  - code: XA
    name: Example A
    countries: [XA]
partners:
  - id: p1
    kind: reseller
    name: Partner One
    jurisdictions: [XA]
    contact: {email: one@example.com}
rules:
  - id: r1
    jurisdiction: XA
    question: host
    effect: deny
    effective_from: 2020-05-01
    reason_code: no_host
    message: no hosting
    alternatives: [p1, join_only]
    condition: facts.plan == "free"
`

// Every refused document says file:line: reason, the line being where the problem is.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           string
	}{
		{"bad YAML", "    countries: [XA]\n", "    countries: [XA\n", "policy.yaml:5: "},
		{"unknown top-level field", `version: "2"`, "version: \"2\"\nrulez: []", `policy.yaml:2: policy: unknown field "rulez"`},
		{"unknown rule field", "    effect: deny\n", "    effect: deny\n    efect: deny\n", `policy.yaml:17: rule: unknown field "efect"`},
		{"unknown fact in condition", `facts.plan == "free"`, `facts.foo == "free"`,
			`policy.yaml:21: rule "r1": condition: undeclared reference to 'facts.foo'`},
		{"CEL syntax", `facts.plan == "free"`, `facts.plan == `, `policy.yaml:21: rule "r1": condition: Syntax error`},
		{"CEL type mismatch", `facts.plan == "free"`, `facts.online == "yes"`, `policy.yaml:21: rule "r1": condition: found no matching overload for '_==_'`},
		{"non-bool condition", `facts.plan == "free"`, `facts.plan`, `policy.yaml:21: rule "r1": condition: is of type string, want bool`},
		{"block condition, error on its second line", `    condition: facts.plan == "free"`, "    condition: |\n      facts.plan == \"free\" &&\n      facts.bogus", `policy.yaml:23: rule "r1": condition: undeclared reference to 'facts.bogus'`},
		{"unknown jurisdiction", "    jurisdiction: XA\n", "    jurisdiction: XZ\n", `policy.yaml:14: rule "r1": unknown jurisdiction "XZ"`},
		{"partner of an unknown jurisdiction", "    jurisdictions: [XA]\n", "    jurisdictions: [XQ]\n", `policy.yaml:10: partner "p1": unknown jurisdiction "XQ"`},
		{"unknown partner", "[p1, join_only]", "[p9, join_only]", `policy.yaml:20: rule "r1": alternatives: unknown partner "p9"`},
		{"unknown question", "question: host", "question: hots", `policy.yaml:15: rule "r1": unknown question "hots"`},
		{"unknown effect", "effect: deny", "effect: forbid", `policy.yaml:16: rule "r1": unknown effect "forbid"`},
		{"require without requirement", "effect: deny", "effect: require", `policy.yaml:16: rule "r1": effect require needs requires`},
		{"bad date", "2020-05-01", "2020-13-01", `policy.yaml:17: rule "r1": effective_from: "2020-13-01" is neither a date`},
		{"until before from", "    effective_from: 2020-05-01\n", "    effective_from: 2020-05-01\n    effective_until: 2020-04-01\n", `policy.yaml:18: rule "r1": effective_until 2020-04-01 is not after effective_from 2020-05-01`},
		{"until without from", "    effective_from: 2020-05-01\n", "    effective_until: 0001-01-01\n", `policy.yaml:13: rule "r1": effective_from is required`},
		{"missing message", "    message: no hosting\n", "", `policy.yaml:13: rule "r1": message is required`},
		{"bad reason code", "reason_code: no_host", "reason_code: No Host", `policy.yaml:18: rule "r1": reason_code "No Host": want lower_case_words`},
		{"bad partner kind", "kind: reseller", "kind: distributor", `policy.yaml:8: partner "p1": kind "distributor": want oem or reseller`},
		{"duplicate rule id", goodPolicy[strings.Index(goodPolicy, "  - id: r1"):], goodPolicy[strings.Index(goodPolicy, "  - id: r1"):] +
			strings.Replace(strings.Replace(goodPolicy[strings.Index(goodPolicy, "  - id: r1"):], "host", "join", 1), "2020-05-01", "2021-01-01", 1),
			`policy.yaml:22: rule "r1": id given twice (first at line 13)`},
		{"overlapping rules", goodPolicy[strings.Index(goodPolicy, "  - id: r1"):], goodPolicy[strings.Index(goodPolicy, "  - id: r1"):] +
			strings.Replace(strings.Replace(goodPolicy[strings.Index(goodPolicy, "  - id: r1"):], "id: r1", "id: r2", 1), "2020-05-01", "2021-01-01", 1),
			`policy.yaml:22: rule "r2": in effect at the same time as rule "r1" (line 13) for the same jurisdiction, question and condition`},
		{"empty version", `version: "2"`, `version: ""`, `policy.yaml:1: policy: version is empty`},
		{"empty", goodPolicy, "", `policy.yaml:1: empty policy document`},
		{"not a mapping", goodPolicy, "- 1\n", `policy.yaml:1: policy: want a mapping`},
	}
	for _, c := range cases {
		if !strings.Contains(goodPolicy, c.old) {
			t.Fatalf("%s: %q not in the policy", c.name, c.old)
		}
		doc := strings.Replace(goodPolicy, c.old, c.new, 1)
		p, err := Load("policy.yaml", []byte(doc))
		var le *LoadError
		if p != nil || !errors.As(err, &le) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error starting %q", c.name, err, c.want)
		}
	}
	if _, err := Load("policy.yaml", []byte(goodPolicy)); err != nil {
		t.Fatalf("the good policy: %v", err)
	}
}

// A rule that sends people to partners needs a partner to send them to.
func TestLoadViaPartnerWithoutPartners(t *testing.T) {
	_, err := Load("policy.yaml", []byte(`version: "1"
jurisdictions: [{code: XA, name: Example A, countries: [XA]}]
rules:
  - {id: r1, jurisdiction: XA, question: buy, effect: require, requires: via_partner, effective_from: 2020-01-01, reason_code: x, message: x}
`))
	if want := `policy.yaml:4: rule "r1": requires via_partner, but no partner serves jurisdiction "XA"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// Successive rules for the same condition (one ends when the next starts) are no overlap.
func TestLoadSuccessiveRules(t *testing.T) {
	r1 := goodPolicy[strings.Index(goodPolicy, "  - id: r1"):]
	doc := strings.Replace(goodPolicy, "    effective_from: 2020-05-01\n", "    effective_from: 2020-05-01\n    effective_until: 2021-01-01\n", 1) +
		strings.Replace(strings.Replace(r1, "id: r1", "id: r2", 1), "2020-05-01", "2021-01-01", 1)
	p, err := Load("policy.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if d := Host(p, Facts{Country: "XA", Plan: "free"}, day("2021-01-01")); d.RuleID != "r2" {
		t.Errorf("on 2021-01-01: %+v", d)
	}
}

// Anchors and aliases share values within a document.
func TestLoadAliases(t *testing.T) {
	doc := strings.Replace(goodPolicy, "    countries: [XA]\n", "    countries: &xa [XA]\n", 1)
	doc = strings.Replace(doc, "    jurisdictions: [XA]\n", "    jurisdictions: *xa\n", 1)
	doc = strings.Replace(doc, "    message: no hosting\n", "    message: &msg no hosting\n", 1)
	doc += "  - {id: r2, jurisdiction: XA, question: join, effect: deny, effective_from: 2020-05-01, reason_code: no_join, message: *msg}\n"
	p, err := Load("policy.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if d := Join(p, Facts{Country: "XA"}, day("2020-06-01")); d.Reason != "no hosting" {
		t.Errorf("join: %+v", d)
	}
	if pt, _ := p.Partner("p1"); pt == nil || len(pt.Jurisdictions) != 1 || pt.Jurisdictions[0] != "XA" {
		t.Errorf("partner: %+v", pt)
	}
}

// A refused file leaves the running policy in place; a good one replaces it.
func TestHolderKeepsPolicyOnBadLoad(t *testing.T) {
	p := china(t)
	h := NewHolder(p)
	bad := strings.Replace(goodPolicy, `facts.plan == "free"`, `facts.nope`, 1)
	if prev, err := h.Load("bad.yaml", []byte(bad)); err == nil || prev != nil || !strings.HasPrefix(err.Error(), "bad.yaml:21: ") {
		t.Fatalf("bad load: %v, %v", prev, err)
	}
	if h.Policy() != p {
		t.Fatal("a refused file replaced the running policy")
	}
	if d := Host(h.Policy(), cnFree, day("2020-05-02")); d.RuleID != "cn-host-free" {
		t.Fatalf("the old policy no longer decides: %+v", d)
	}
	prev, err := h.Load("good.yaml", []byte(goodPolicy))
	if err != nil || prev != p || h.Policy().Version != "2" {
		t.Fatalf("good load: %v, %v", prev, err)
	}
}

func FuzzLoad(f *testing.F) {
	data, err := fs.ReadFile(Examples(), "examples/china-2020.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(goodPolicy))
	f.Add([]byte(precedencePolicy))
	f.Add([]byte("version: 1\nrules: [{id: x, condition: '1 +'}]"))
	f.Add([]byte(strings.Replace(goodPolicy, "    effective_from: 2020-05-01\n", "    effective_until: 0001-01-01\n", 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load("fuzz.yaml", data)
		if (p == nil) == (err == nil) {
			t.Fatalf("policy %v and error %v", p, err)
		}
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), "fuzz.yaml:") {
				t.Fatalf("error not a LoadError: %v", err)
			}
			return
		}
		for q := range numQuestions {
			_ = Decide(p, q, cnFree, day("2020-08-24"))
			_ = Decide(p, q, Facts{Country: "XA", BillingCountry: "XB", Region: "x"}, day("2020-08-24"))
		}
	})
}

func mustExample(t testing.TB) string {
	t.Helper()
	data, err := fs.ReadFile(Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
