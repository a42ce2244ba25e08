package policy

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"gopkg.in/yaml.v3"
)

// LoadError is one reason a policy document was refused, at a line of its file.
type LoadError struct {
	File string
	Line int // 0 when the YAML parser gives none
	Msg  string
}

func (e *LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// maxLoadErrors bounds the report of a badly broken file; the first ones are what to fix.
const maxLoadErrors = 20

var (
	yamlLine   = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	factRef    = regexp.MustCompile(`^facts\.[A-Za-z_][A-Za-z0-9_]*`)
	codeSyntax = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// loader gathers the errors of one Load.
type loader struct {
	name string
	errs []*LoadError
}

func (l *loader) errorf(line int, format string, args ...any) {
	l.errs = append(l.errs, &LoadError{File: l.name, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Load parses, validates and compiles a policy document. name is the file it came from,
// for messages. A document that does not load returns every problem found (up to a bound),
// each a *LoadError "file:line: reason", joined with errors.Join.
func Load(name string, data []byte) (*Policy, error) {
	l := &loader{name: name}
	p := l.load(data)
	if len(l.errs) > 0 {
		slices.SortStableFunc(l.errs, func(a, b *LoadError) int { return cmp.Compare(a.Line, b.Line) })
		if len(l.errs) > maxLoadErrors {
			l.errs = l.errs[:maxLoadErrors]
		}
		errs := make([]error, len(l.errs))
		for i, e := range l.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func (l *loader) load(data []byte) *Policy {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		l.yamlError(err)
		return nil
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		l.errorf(1, "empty policy document")
		return nil
	}
	top := l.fields(root.Content[0], "policy", "version", "jurisdictions", "partners", "rules")
	if top == nil {
		return nil
	}
	p := &Policy{
		Name:         l.name,
		jurByCode:    map[string]int{},
		jurByCountry: map[string]int{},
		jurByRegion:  map[string]int{},
		partnerByID:  map[string]*Partner{},
		interned:     map[string]ref.Val{},
	}
	p.Version = l.required(top, root.Content[0], "policy", "version")
	l.jurisdictions(p, top["jurisdictions"])
	l.partners(p, top["partners"])
	env, err := celEnv()
	if err != nil {
		l.errorf(0, "cel environment: %v", err)
		return nil
	}
	l.rules(p, env, top["rules"])
	if len(l.errs) > 0 {
		return nil
	}
	p.buildIndex()
	p.acts.New = func() any { return &activation{interned: p.interned} }
	return p
}

func (l *loader) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			n, _ := strconv.Atoi(sm[1])
			// yaml.v3 gives these parser errors at the 0-based line of their context.
			if strings.HasPrefix(sm[2], "did not find expected") || strings.HasPrefix(sm[2], "found a tab character") {
				n++
			}
			l.errorf(n, "%s", sm[2])
		} else {
			l.errorf(0, "%s", strings.TrimPrefix(m, "yaml: "))
		}
	}
}

// fields checks that n is a mapping with only the allowed keys, each once, and returns
// its values by key; nil if n is not a mapping.
func (l *loader) fields(n *yaml.Node, what string, allowed ...string) map[string]*yaml.Node {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		l.errorf(n.Line, "%s: want a mapping", what)
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			l.errorf(k.Line, "%s: keys must be plain words", what)
		case !slices.Contains(allowed, k.Value):
			l.errorf(k.Line, "%s: unknown field %q (known: %s)", what, k.Value, strings.Join(allowed, ", "))
		case out[k.Value] != nil:
			l.errorf(k.Line, "%s: field %q given twice", what, k.Value)
		default:
			out[k.Value] = deref(v)
		}
	}
	return out
}

func (l *loader) str(n *yaml.Node, what string) string {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.errorf(n.Line, "%s: want a single value", what)
		return ""
	}
	return n.Value
}

func (l *loader) strs(n *yaml.Node, what string) []string {
	if n == nil {
		return nil
	}
	if n = deref(n); n.Kind != yaml.SequenceNode {
		l.errorf(n.Line, "%s: want a list", what)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if s := l.str(c, what); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (l *loader) items(n *yaml.Node, what string) []*yaml.Node {
	if n == nil {
		return nil
	}
	if n = deref(n); n.Kind != yaml.SequenceNode {
		l.errorf(n.Line, "%s: want a list", what)
		return nil
	}
	return n.Content
}

// deref follows a YAML alias (*name) to its anchored node, so that a document may share a
// message or a list of countries. The loader reads a fixed depth, so an alias to an
// enclosing node cannot loop.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// required returns the string value of key, reporting its absence at the item's line.
func (l *loader) required(f map[string]*yaml.Node, item *yaml.Node, what, key string) string {
	v, ok := f[key]
	if !ok {
		l.errorf(item.Line, "%s: %s is required", what, key)
		return ""
	}
	s := l.str(v, what+": "+key)
	if s == "" && v.Kind == yaml.ScalarNode {
		l.errorf(v.Line, "%s: %s is empty", what, key)
	}
	return s
}

func (l *loader) jurisdictions(p *Policy, n *yaml.Node) {
	for _, it := range l.items(n, "jurisdictions") {
		f := l.fields(it, "jurisdiction", "code", "name", "countries", "regions", "residency", "opt_in_regions")
		if f == nil {
			continue
		}
		j := Jurisdiction{Code: l.required(f, it, "jurisdiction", "code")}
		what := fmt.Sprintf("jurisdiction %q", j.Code)
		j.Name = l.required(f, it, what, "name")
		j.Countries = l.strs(f["countries"], what+": countries")
		j.Regions = l.strs(f["regions"], what+": regions")
		j.Residency = l.strs(f["residency"], what+": residency")
		j.OptInRegions = l.strs(f["opt_in_regions"], what+": opt_in_regions")
		if j.Code == "" {
			continue
		}
		if _, dup := p.jurByCode[j.Code]; dup {
			l.errorf(it.Line, "%s: code given twice", what)
			continue
		}
		idx := len(p.Jurisdictions)
		if len(j.Countries) == 0 {
			l.errorf(it.Line, "%s: countries: at least one is required", what)
		}
		for _, c := range j.Countries {
			if o, dup := p.jurByCountry[c]; dup {
				l.errorf(f["countries"].Line, "%s: country %s is already in jurisdiction %q", what, c, p.Jurisdictions[o].Code)
			}
			p.jurByCountry[c] = idx
		}
		for _, r := range j.Regions {
			if o, dup := p.jurByRegion[r]; dup {
				l.errorf(f["regions"].Line, "%s: region %s is already in jurisdiction %q", what, r, p.Jurisdictions[o].Code)
			}
			p.jurByRegion[r] = idx
		}
		for key, list := range map[string][]string{"residency": j.Residency, "opt_in_regions": j.OptInRegions} {
			for _, r := range list {
				if !slices.Contains(j.Regions, r) {
					l.errorf(f[key].Line, "%s: %s: region %s is not one of its regions", what, key, r)
				}
			}
		}
		p.jurByCode[j.Code] = idx
		p.Jurisdictions = append(p.Jurisdictions, j)
	}
}

func (l *loader) partners(p *Policy, n *yaml.Node) {
	for _, it := range l.items(n, "partners") {
		f := l.fields(it, "partner", "id", "kind", "name", "jurisdictions", "contact")
		if f == nil {
			continue
		}
		pt := &Partner{ID: l.required(f, it, "partner", "id")}
		what := fmt.Sprintf("partner %q", pt.ID)
		pt.Kind = l.required(f, it, what, "kind")
		pt.Name = l.required(f, it, what, "name")
		pt.Jurisdictions = l.strs(f["jurisdictions"], what+": jurisdictions")
		if pt.Kind != "" && pt.Kind != "oem" && pt.Kind != "reseller" {
			l.errorf(f["kind"].Line, "%s: kind %q: want oem or reseller", what, pt.Kind)
		}
		if c, ok := f["contact"]; ok {
			if cf := l.fields(c, what+": contact", "url", "email", "phone"); cf != nil {
				for key, dst := range map[string]*string{"url": &pt.Contact.URL, "email": &pt.Contact.Email, "phone": &pt.Contact.Phone} {
					if v, ok := cf[key]; ok {
						*dst = l.str(v, what+": contact: "+key)
					}
				}
			}
		}
		if pt.Contact == (Contact{}) {
			l.errorf(it.Line, "%s: contact: a url, email or phone is required, for the people sent to it", what)
		}
		if pt.ID == "" {
			continue
		}
		if _, dup := p.partnerByID[pt.ID]; dup {
			l.errorf(it.Line, "%s: id given twice", what)
			continue
		}
		if len(pt.Jurisdictions) == 0 {
			l.errorf(it.Line, "%s: jurisdictions: at least one is required", what)
		}
		for _, code := range pt.Jurisdictions {
			i, ok := p.jurByCode[code]
			if !ok {
				l.errorf(f["jurisdictions"].Line, "%s: unknown jurisdiction %q", what, code)
				continue
			}
			p.Jurisdictions[i].Partners = append(p.Jurisdictions[i].Partners, pt)
		}
		p.partnerByID[pt.ID] = pt
		p.Partners = append(p.Partners, pt)
	}
}

// parseTime reads a date (midnight UTC) or an RFC 3339 time.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2006-01-02) nor an RFC 3339 time", s)
	}
	return t, nil
}

func (l *loader) rules(p *Policy, env *cel.Env, n *yaml.Node) {
	seen := map[string]*Rule{}
	for _, it := range l.items(n, "rules") {
		f := l.fields(it, "rule", "id", "jurisdiction", "question", "effect", "requires",
			"effective_from", "effective_until", "reason_code", "message", "alternatives", "condition")
		if f == nil {
			continue
		}
		r := &Rule{ID: l.required(f, it, "rule", "id"), Line: it.Line, order: len(p.Rules)}
		what := fmt.Sprintf("rule %q", r.ID)
		if o, dup := seen[r.ID]; dup && r.ID != "" {
			l.errorf(it.Line, "%s: id given twice (first at line %d)", what, o.Line)
		}
		seen[r.ID] = r
		r.Jurisdiction = l.required(f, it, what, "jurisdiction")
		if j, ok := p.jurByCode[r.Jurisdiction]; ok {
			r.jur = j
		} else if r.Jurisdiction != "" {
			l.errorf(f["jurisdiction"].Line, "%s: unknown jurisdiction %q", what, r.Jurisdiction)
		}
		if q := l.required(f, it, what, "question"); q != "" {
			var ok bool
			if r.Question, ok = ParseQuestion(q); !ok {
				l.errorf(f["question"].Line, "%s: unknown question %q (known: register, host, join, buy, upgrade, renew, change_regions, enter)", what, q)
			}
		}
		l.effect(r, f, it, what)
		from := l.required(f, it, what, "effective_from")
		if from != "" {
			t, err := parseTime(from)
			if err != nil {
				l.errorf(f["effective_from"].Line, "%s: effective_from: %v", what, err)
			}
			r.EffectiveFrom = t
		}
		if v, ok := f["effective_until"]; ok {
			t, err := parseTime(l.str(v, what+": effective_until"))
			switch {
			case err != nil:
				l.errorf(v.Line, "%s: effective_until: %v", what, err)
			case from != "" && !t.After(r.EffectiveFrom):
				l.errorf(v.Line, "%s: effective_until %s is not after effective_from %s", what, v.Value, from)
			}
			r.EffectiveUntil = t
		}
		r.ReasonCode = l.required(f, it, what, "reason_code")
		if r.ReasonCode != "" && !codeSyntax.MatchString(r.ReasonCode) {
			l.errorf(f["reason_code"].Line, "%s: reason_code %q: want lower_case_words, it is a stable code", what, r.ReasonCode)
		}
		r.Message = l.required(f, it, what, "message")
		l.alternatives(p, r, f["alternatives"], what)
		if v, ok := f["condition"]; ok {
			l.condition(p, env, r, v, what)
		}
		p.Rules = append(p.Rules, r)
	}
	l.overlaps(p.Rules)
}

func (l *loader) effect(r *Rule, f map[string]*yaml.Node, it *yaml.Node, what string) {
	e := Effect(l.required(f, it, what, "effect"))
	r.Effect = e
	req, hasReq := f["requires"]
	switch e {
	case "":
	case EffectAllow, EffectDeny:
		if hasReq {
			l.errorf(req.Line, "%s: requires is only for effect require", what)
		}
	case EffectRequire:
		if !hasReq {
			l.errorf(f["effect"].Line, "%s: effect require needs requires (business_only, via_partner, assisted, data_residency or opt_in)", what)
			return
		}
		r.Requires = Requirement(l.str(req, what+": requires"))
		switch r.Requires {
		case RequireBusiness, RequireViaPartner, RequireAssisted, RequireResidency, RequireOptIn:
		default:
			l.errorf(req.Line, "%s: unknown requirement %q (known: business_only, via_partner, assisted, data_residency, opt_in)", what, r.Requires)
		}
	default:
		l.errorf(f["effect"].Line, "%s: unknown effect %q (known: allow, deny, require)", what, e)
	}
}

func (l *loader) alternatives(p *Policy, r *Rule, n *yaml.Node, what string) {
	j, jok := p.Jurisdiction(r.Jurisdiction)
	for _, a := range l.strs(n, what+": alternatives") {
		switch a {
		case AltJoinOnly:
			r.Alternatives = append(r.Alternatives, Alternative{Kind: a, Text: "you can still join meetings that others host"})
		case AltBusiness:
			r.Alternatives = append(r.Alternatives, Alternative{Kind: a, Text: "register a business account"})
		case AltSales:
			r.Alternatives = append(r.Alternatives, Alternative{Kind: a, Text: "buy through our sales team instead of online"})
		case AltOptIn:
			r.Alternatives = append(r.Alternatives, Alternative{Kind: a, Text: "opt in to the region in the account's settings"})
		case AltResidency:
			if jok {
				r.Alternatives = append(r.Alternatives, Alternative{Kind: a,
					Text: "keep the account's data in " + strings.Join(j.Residency, " or ")})
			}
		case "partners":
			if jok {
				r.Alternatives = append(r.Alternatives, partnerAlternatives(j.Partners)...)
			}
		default:
			pt, ok := p.partnerByID[a]
			switch {
			case !ok:
				l.errorf(n.Line, "%s: alternatives: unknown partner %q (or join_only, business_account, contact_sales, opt_in, residency_regions, partners)", what, a)
			case jok && !slices.Contains(pt.Jurisdictions, j.Code):
				l.errorf(n.Line, "%s: alternatives: partner %q does not serve jurisdiction %q", what, a, j.Code)
			default:
				r.Alternatives = append(r.Alternatives, partnerAlternatives([]*Partner{pt})...)
			}
		}
	}
	// A rule that requires a partner names the partners that serve its jurisdiction
	// unless it chose its own.
	if r.Requires == RequireViaPartner && jok {
		if len(j.Partners) == 0 {
			l.errorf(r.Line, "%s: requires via_partner, but no partner serves jurisdiction %q", what, j.Code)
		}
		if n == nil {
			r.Alternatives = partnerAlternatives(j.Partners)
		}
	}
}

func partnerAlternatives(pts []*Partner) []Alternative {
	out := make([]Alternative, 0, len(pts))
	for _, pt := range pts {
		var contact []string
		for _, c := range []string{pt.Contact.URL, pt.Contact.Email, pt.Contact.Phone} {
			if c != "" {
				contact = append(contact, c)
			}
		}
		kind := "authorized partner"
		if pt.Kind == "reseller" {
			kind = "authorized reseller"
		}
		out = append(out, Alternative{Kind: AltPartner, Partner: pt,
			Text: fmt.Sprintf("%s (%s): %s", pt.Name, kind, strings.Join(contact, ", "))})
	}
	return out
}

func (l *loader) condition(p *Policy, env *cel.Env, r *Rule, v *yaml.Node, what string) {
	r.Condition = l.str(v, what+": condition")
	if r.Condition == "" {
		return
	}
	// A block scalar's text starts on the line after its indicator.
	base := v.Line
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		base++
	}
	ast, iss := env.Compile(r.Condition)
	if iss.Err() != nil {
		for _, e := range iss.Errors() {
			line := base
			if e.Location != nil && e.Location.Line() > 1 {
				line += e.Location.Line() - 1
			}
			l.errorf(line, "%s: condition: %s", what, qualify(e, r.Condition))
		}
		return
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		l.errorf(base, "%s: condition: is of type %s, want bool", what, ast.OutputType())
		return
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		l.errorf(base, "%s: condition: %v", what, err)
		return
	}
	r.prg = prg
	for _, c := range celast.MatchDescendants(celast.NavigateAST(ast.NativeRep()), celast.ConstantValueMatcher()) {
		if s, ok := c.AsLiteral().(types.String); ok {
			p.interned[string(s)] = s
		}
	}
}

// qualify names the whole unknown fact in a checker error, which names only the first
// part of a dotted name ("undeclared reference to 'facts'"), and lists the known ones.
func qualify(e *cel.Error, src string) string {
	if !strings.HasPrefix(e.Message, "undeclared reference to 'facts'") || e.Location == nil {
		return e.Message
	}
	lines := strings.Split(src, "\n")
	line, col := e.Location.Line()-1, e.Location.Column()
	if line < 0 || line >= len(lines) || col < 0 || col > len(lines[line]) {
		return e.Message
	}
	ref := factRef.FindString(lines[line][col:])
	if ref == "" {
		return e.Message
	}
	return fmt.Sprintf("undeclared reference to '%s' (facts: %s)", ref, strings.Join(factNames(), ", "))
}

// overlaps refuses two rules of the same jurisdiction and question with the same
// condition in effect at the same time: one of them would never decide anything, and which
// one is meant is the author's to say (by ending the older one with effective_until).
func (l *loader) overlaps(rules []*Rule) {
	type key struct {
		jur  string
		q    Question
		cond string
	}
	groups := map[key][]*Rule{}
	for _, r := range rules {
		k := key{r.Jurisdiction, r.Question, strings.Join(strings.Fields(r.Condition), " ")}
		for _, o := range groups[k] {
			if overlap(o, r) {
				l.errorf(r.Line, "rule %q: in effect at the same time as rule %q (line %d) for the same jurisdiction, question and condition; end one with effective_until", r.ID, o.ID, o.Line)
			}
		}
		groups[k] = append(groups[k], r)
	}
}

func overlap(a, b *Rule) bool {
	// [a.from, a.until) and [b.from, b.until) intersect; a zero until is open-ended.
	aEndsBeforeB := !a.EffectiveUntil.IsZero() && !a.EffectiveUntil.After(b.EffectiveFrom)
	bEndsBeforeA := !b.EffectiveUntil.IsZero() && !b.EffectiveUntil.After(a.EffectiveFrom)
	return !aEndsBeforeB && !bEndsBeforeA
}

func (p *Policy) buildIndex() {
	p.index = make([][numQuestions][]*Rule, len(p.Jurisdictions))
	for _, r := range p.Rules {
		p.index[r.jur][r.Question] = append(p.index[r.jur][r.Question], r)
	}
	for j := range p.index {
		for q := range p.index[j] {
			slices.SortStableFunc(p.index[j][q], precedes)
		}
	}
	for _, j := range p.Jurisdictions {
		for _, s := range slices.Concat(j.Countries, j.Regions) {
			p.interned[s] = types.String(s)
		}
	}
	for _, s := range []string{"individual", "business", "direct", "oem", "reseller"} {
		p.interned[s] = types.String(s)
	}
	for id := range p.partnerByID {
		p.interned[id] = types.String(id)
	}
}

// precedes orders rules by precedence: the latest effective first, then document order.
func precedes(a, b *Rule) int {
	if c := b.EffectiveFrom.Compare(a.EffectiveFrom); c != 0 {
		return c
	}
	return cmp.Compare(a.order, b.order)
}
