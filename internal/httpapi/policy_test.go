package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/policyadmin"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
)

// testClock is the fixed, settable clock the policy tests replay dates with.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(day string) {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	c.t = t.Add(12 * time.Hour)
	c.mu.Unlock()
}

type policyFixture struct {
	*apiFixture
	clock *testClock
}

const testOperator = "ops@example.com"

func china2020(t *testing.T) []byte {
	t.Helper()
	b, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newPolicyAPI serves New's handler with real account, meeting and policy services over a
// real SQLite store, a fixed clock, the running policy doc (none if nil) and
// testOperator as the one operator.
func newPolicyAPI(t *testing.T, doc []byte, day string) *policyFixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "local"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var p *policy.Policy
	if doc != nil {
		if p, err = policy.Load("policy.yaml", doc); err != nil {
			t.Fatal(err)
		}
	}
	holder := policy.NewHolder(p)
	clock := &testClock{}
	clock.set(day)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	audit := auditlog.New(st, auditlog.Options{Log: log, Now: clock.Now})
	decisions := decisionlog.New(st, decisionlog.Options{Log: log, Now: clock.Now})
	t.Cleanup(func() { decisions.Close(context.Background()) })
	accounts, err := account.New(st, &recordingSender{}, account.Options{Log: log, Audit: audit, Now: clock.Now, Policy: holder, Decisions: decisions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accounts.Close(context.Background()) })
	secret := []byte("0123456789abcdef0123456789abcdef")
	key, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	meetings, err := meeting.New(st, token.NewIssuer(key, nil), secret, meeting.Options{Log: log, Audit: audit, Now: clock.Now, Policy: holder,
		Decisions: decisions})
	if err != nil {
		t.Fatal(err)
	}
	admin := policyadmin.New(holder, policyadmin.Document{Name: "policy.yaml", Source: doc}, st,
		policyadmin.Options{Now: clock.Now, Audit: audit, Decisions: decisions})
	f := &apiFixture{st: st, mail: &recordingSender{}}
	f.srv = httptest.NewServer(New(Deps{
		Log: log, Accounts: accounts, ResetURL: "https://meet.example/reset",
		Meetings: meetings, PublicURL: "https://meet.example/",
		Policy: admin, Operators: []string{"OPS@example.com"},
	}))
	t.Cleanup(f.srv.Close)
	return &policyFixture{apiFixture: f, clock: clock}
}

func signUpBodyFor(typ, email, country string) string {
	name := ""
	if typ == "business" {
		name = `"account_name":"Acme Shanghai",`
	}
	return fmt.Sprintf(`{"account_type":%q,%s"email":%q,"display_name":"Li","password":"correct horse battery","country":%q}`,
		typ, name, email, country)
}

func (f *policyFixture) signUpIn(t *testing.T, typ, email, country string) session {
	t.Helper()
	r := f.call(t, "POST", "/api/signup", signUpBodyFor(typ, email, country))
	if r.status != http.StatusCreated {
		t.Fatalf("sign-up of %s (%s, %s) on %s: %d %s", email, typ, country, f.clock.Now().Format(time.DateOnly), r.status, r.body)
	}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	c := r.cookie(t)
	return session{cookie: c.Name + "=" + c.Value, csrf: out.CSRFToken}
}

type jurisdictionRefusalOut struct {
	Code          string    `json:"code"`
	Message       string    `json:"message"`
	RuleID        string    `json:"rule_id"`
	Jurisdiction  string    `json:"jurisdiction"`
	EffectiveFrom time.Time `json:"effective_from"`
	PolicyVersion string    `json:"policy_version"`
	Alternatives  []struct {
		Kind    string `json:"kind"`
		Text    string `json:"text"`
		Partner *struct {
			ID      string         `json:"id"`
			Name    string         `json:"name"`
			Contact policy.Contact `json:"contact"`
		} `json:"partner"`
	} `json:"alternatives"`
}

func (r jurisdictionRefusalOut) altKinds() []string {
	var k []string
	for _, a := range r.Alternatives {
		k = append(k, a.Kind)
	}
	return k
}

func TestChina2020SignUpOverHTTP(t *testing.T) {
	f := newPolicyAPI(t, china2020(t), "2020-05-02")

	r := f.call(t, "POST", "/api/signup", signUpBodyFor("individual", "li@example.com", "CN"))
	ref := decodeAs[jurisdictionRefusalOut](t, r, http.StatusForbidden)
	if ref.Code != "registration_business_only" || ref.RuleID != "cn-register-business-only" || ref.Jurisdiction != "CN" ||
		!ref.EffectiveFrom.Equal(time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)) || ref.PolicyVersion == "" ||
		!slices.Equal(ref.altKinds(), []string{"business_account", "join_only"}) ||
		!strings.Contains(ref.Message, "businesses only") || !strings.Contains(ref.Message, "Instead:") {
		t.Fatalf("an individual with a CN address on 2020-05-02: %+v", ref)
	}
	// Nothing was created: the address is still free for the business sign-up.
	f.signUpIn(t, "business", "li@example.com", "cn")

	// Leaving the country out does not pass the rule by.
	if r := f.call(t, "POST", "/api/signup", signUpBodyFor("individual", "nocountry@example.com", "")); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
		t.Fatalf("sign-up without a country under a policy: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/signup", signUpBodyFor("individual", "bad@example.com", "China")); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
		t.Fatalf("sign-up with a malformed country: %d %s", r.status, r.body)
	}
	// A US individual is untouched.
	f.signUpIn(t, "individual", "ann@example.com", "US")

	f.clock.set("2020-04-30")
	s := f.signUpIn(t, "individual", "wang@example.com", "CN")
	me := decodeAs[struct {
		Account struct {
			Country        string `json:"country"`
			BillingCountry string `json:"billing_country"`
		} `json:"account"`
	}](t, f.call(t, "GET", "/api/me", "", s.auth(false)...), http.StatusOK)
	if me.Account.Country != "CN" || me.Account.BillingCountry != "CN" {
		t.Fatalf("the account's countries: %+v", me.Account)
	}
}

func TestChina2020HostAndJoinOverHTTP(t *testing.T) {
	f := newPolicyAPI(t, china2020(t), "2020-04-30")
	us := f.signUpIn(t, "individual", "ann@example.com", "US")
	cn := f.signUpIn(t, "individual", "li@example.com", "CN")
	mf := &meetingsFixture{apiFixture: f.apiFixture}

	f.clock.set("2020-05-02")
	for _, path := range []string{"/api/meetings"} {
		r := f.call(t, "POST", path, `{}`, cn.auth(true)...)
		ref := decodeAs[jurisdictionRefusalOut](t, r, http.StatusForbidden)
		if ref.Code != "free_plan_cannot_host_cn" || ref.RuleID != "cn-host-free" || ref.Jurisdiction != "CN" ||
			!slices.Equal(ref.altKinds(), []string{"join_only", "contact_sales"}) ||
			!strings.Contains(ref.Message, "can join meetings but can no longer host them") {
			t.Fatalf("a free CN account hosting on 2020-05-02: %+v", ref)
		}
	}
	m := mf.schedule(t, us, `{}`)
	mf.startMeeting(t, us, m.ID)
	r := f.call(t, "POST", "/api/join", joinBody("meeting_id", m.DisplayID, "passcode", m.Passcode, "display_name", "Li"), cn.auth(true)...)
	if tk := decodeAs[ticketOut](t, r, http.StatusOK); tk.Token == "" || tk.Host {
		t.Fatalf("the CN user joining a US host's meeting: %+v", tk)
	}

	// The same on 2020-04-30: hosting is allowed.
	f.clock.set("2020-04-30")
	own := mf.schedule(t, cn, `{}`)
	mf.startMeeting(t, cn, own.ID)
}

func TestPolicyRoutesAreForOperatorsOnly(t *testing.T) {
	f := newPolicyAPI(t, nil, "2020-05-02")
	user := f.signUpIn(t, "individual", "ann@example.com", "US")
	routes := []struct{ method, path, body string }{
		{"GET", "/api/policy", ""},
		{"POST", "/api/policy/validate", "version: x\n"},
		{"POST", "/api/policy/stage", "version: x\n"},
		{"POST", "/api/policy/activate", ""},
		{"POST", "/api/policy/dry-run", `{}`},
		{"GET", "/api/policy/decisions", ""},
	}
	for _, rt := range routes {
		if r := f.call(t, rt.method, rt.path, rt.body); r.status != http.StatusUnauthorized || r.code(t) != "unauthenticated" {
			t.Errorf("%s %s anonymous: %d %s", rt.method, rt.path, r.status, r.body)
		}
		if r := f.call(t, rt.method, rt.path, rt.body, user.auth(true)...); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
			t.Errorf("%s %s by a user who is not an operator: %d %s", rt.method, rt.path, r.status, r.body)
		}
	}
	// Nor does an API key of an operator's account make an operator.
	ops := f.signUpIn(t, "business", testOperator, "US")
	_, secret := f.createKey(t, ops, "account:read")
	if r := f.call(t, "GET", "/api/policy", "", "Authorization", "Bearer "+secret); r.status != http.StatusForbidden {
		t.Errorf("GET /api/policy with the operator's account's key: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/policy", "", ops.auth(false)...); r.status != http.StatusOK {
		t.Errorf("GET /api/policy by the operator: %d %s", r.status, r.body)
	}
	me := decodeAs[struct{ Operator bool }](t, f.call(t, "GET", "/api/me", "", ops.auth(false)...), http.StatusOK)
	notMe := decodeAs[struct{ Operator bool }](t, f.call(t, "GET", "/api/me", "", user.auth(false)...), http.StatusOK)
	if !me.Operator || notMe.Operator {
		t.Errorf("/api/me operator: operator %v, user %v", me.Operator, notMe.Operator)
	}
}

type policyDocOut struct {
	Name, Version, Document string
	Rules                   []struct {
		ID            string    `json:"id"`
		EffectiveFrom time.Time `json:"effective_from"`
	}
}

func TestPolicyStageAndActivateOverHTTP(t *testing.T) {
	f := newPolicyAPI(t, china2020(t), "2020-05-02")
	ops := f.signUpIn(t, "business", testOperator, "US")
	running := func() (policyDocOut, *policyDocOut) {
		v := decodeAs[struct {
			Running policyDocOut
			Staged  *policyDocOut
		}](t, f.call(t, "GET", "/api/policy", "", ops.auth(false)...), http.StatusOK)
		return v.Running, v.Staged
	}
	run, staged := running()
	if run.Version != "china-2020.1" || staged != nil || len(run.Rules) == 0 || !strings.Contains(run.Document, "cn-host-free") ||
		!slices.IsSortedFunc(run.Rules, func(a, b struct {
			ID            string    `json:"id"`
			EffectiveFrom time.Time `json:"effective_from"`
		}) int {
			return a.EffectiveFrom.Compare(b.EffectiveFrom)
		}) {
		t.Fatalf("running policy %+v, staged %+v", run, staged)
	}

	bad := strings.Replace(string(china2020(t)), `facts.plan == "free" && facts.country == "CN"`, `facts.plan`, 1)
	for _, path := range []string{"/api/policy/validate", "/api/policy/stage"} {
		r := f.call(t, "POST", path, bad, append(ops.auth(true), "Content-Type", "application/yaml")...)
		out := decodeAs[struct {
			Code   string
			Errors []struct {
				File    string
				Line    int
				Message string
			}
		}](t, r, http.StatusUnprocessableEntity)
		if out.Code != "invalid_policy" || len(out.Errors) != 1 || out.Errors[0].Line != 82 || out.Errors[0].File != "policy.yaml" ||
			!strings.Contains(out.Errors[0].Message, "want bool") {
			t.Fatalf("%s of a policy that does not load: %s", path, r.body)
		}
	}
	if run2, staged := running(); run2.Version != run.Version || staged != nil {
		t.Fatalf("after a refused policy: running %q, staged %+v", run2.Version, staged)
	}
	// The running policy still decides.
	if r := f.call(t, "POST", "/api/signup", signUpBodyFor("individual", "li@example.com", "CN")); r.status != http.StatusForbidden {
		t.Fatalf("sign-up after a refused policy: %d %s", r.status, r.body)
	}

	if r := f.call(t, "POST", "/api/policy/activate", "", ops.auth(true)...); r.status != http.StatusConflict || r.code(t) != "nothing_staged" {
		t.Fatalf("activate with nothing staged: %d %s", r.status, r.body)
	}
	// The next version ends the registration rule and adds a US rule.
	next := strings.Replace(string(china2020(t)), `version: "china-2020.1"`, `version: "china-2020.2"`, 1)
	next = strings.Replace(next, "  - id: cn-register-business-only", "  - id: cn-register-business-only-gone", 1)
	if !strings.Contains(next, "china-2020.2") || !strings.Contains(next, "business-only-gone") {
		t.Fatal("the test's edit of the example no longer applies")
	}
	r := f.call(t, "POST", "/api/policy/stage", next, append(ops.auth(true), "Content-Type", "application/yaml")...)
	if st := decodeAs[struct{ Staged policyDocOut }](t, r, http.StatusOK); st.Staged.Version != "china-2020.2" {
		t.Fatalf("staged %+v", st)
	}
	act := decodeAs[struct {
		Running policyDocOut
		Changes policyadmin.RuleChanges
	}](t, f.call(t, "POST", "/api/policy/activate", "", ops.auth(true)...), http.StatusOK)
	if act.Running.Version != "china-2020.2" || !slices.Equal(act.Changes.Added, []string{"cn-register-business-only-gone"}) ||
		!slices.Equal(act.Changes.Removed, []string{"cn-register-business-only"}) || len(act.Changes.Changed) != 0 {
		t.Fatalf("activated %+v", act)
	}
	if run, staged := running(); run.Version != "china-2020.2" || staged != nil {
		t.Fatalf("after activation: running %q, staged %+v", run.Version, staged)
	}
	entries, err := f.st.ListAudit(t.Context(), store.AuditQuery{Subject: "china-2020.2"})
	if err != nil {
		t.Fatal(err)
	}
	var activated *store.AuditEntry
	for i, e := range entries {
		if e.Action == "policy.activate" {
			activated = &entries[i]
		}
	}
	if activated == nil || activated.Outcome != "ok" || activated.Actor == "" || !activated.At.Equal(f.clock.Now()) ||
		!strings.Contains(activated.Detail, "from china-2020.1 to china-2020.2") ||
		!strings.Contains(activated.Detail, "added [cn-register-business-only-gone] removed [cn-register-business-only]") {
		t.Fatalf("activation audit: %+v (all %+v)", activated, entries)
	}
}

func TestPolicyDryRunOverHTTP(t *testing.T) {
	f := newPolicyAPI(t, nil, "2020-04-30")
	ops := f.signUpIn(t, "business", testOperator, "US")
	li := f.signUpIn(t, "individual", "li@example.com", "CN")
	f.signUpIn(t, "business", "acme@example.com", "CN")
	f.signUpIn(t, "individual", "ann@example.com", "US")
	mf := &meetingsFixture{apiFixture: f.apiFixture}
	m := mf.schedule(t, li, `{"topic":"Standup","starts_at":"2020-05-04T09:00:00Z","duration_minutes":30,"time_zone":"Asia/Shanghai"}`)

	if r := f.call(t, "POST", "/api/policy/dry-run", `{"at":"2020-05-02T12:00:00Z"}`, ops.auth(true)...); r.status != http.StatusConflict {
		t.Fatalf("dry run with nothing staged: %d %s", r.status, r.body)
	}
	r := f.call(t, "POST", "/api/policy/stage", string(china2020(t)), append(ops.auth(true), "Content-Type", "application/yaml")...)
	decodeAs[struct{}](t, r, http.StatusOK)
	type report struct {
		From    string `json:"from_version"`
		To      string `json:"to_version"`
		Counts  []policyadmin.Count
		Changes []policyadmin.SubjectChange
		Replay  policyadmin.Replay
		Regions []policyadmin.RegionReport
	}
	rep := decodeAs[report](t, f.call(t, "POST", "/api/policy/dry-run", `{"at":"2020-05-02T12:00:00Z"}`, ops.auth(true)...), http.StatusOK)
	want := []policyadmin.Count{
		{Region: "local", Kind: "account", Subjects: 4, Changed: 2, NowRefused: 2},
		{Region: "local", Kind: "meeting", Subjects: 1, Changed: 1, NowRefused: 1},
	}
	// The decision log (4 sign-ups, 1 scheduling, all on 2020-04-30) replays unchanged:
	// no rule was in effect when they were made.
	if rep.From != "" || rep.To != "china-2020.1" || !slices.Equal(rep.Counts, want) || len(rep.Changes) != 3 ||
		!rep.Replay.Available || rep.Replay.Decisions != 5 || rep.Replay.Changed != 0 ||
		len(rep.Regions) != 1 || rep.Regions[0].Region != "local" || !rep.Regions[0].Answered {
		t.Fatalf("dry run on 2020-05-02: %+v", rep)
	}
	var meetingChange *policyadmin.SubjectChange
	for i, c := range rep.Changes {
		if c.Kind == "meeting" {
			meetingChange = &rep.Changes[i]
		}
		if c.NewCode != "free_plan_cannot_host_cn" || c.NewRule != "cn-host-free" || c.Allowed {
			t.Errorf("change %+v", c)
		}
	}
	if meetingChange == nil || meetingChange.ID != m.ID {
		t.Errorf("the scheduled meeting's change: %+v (meeting %s)", meetingChange, m.ID)
	}
	// No personal data in the report: no email address, name or topic.
	raw := f.call(t, "POST", "/api/policy/dry-run", `{"at":"2020-05-02T12:00:00Z"}`, ops.auth(true)...).body
	for _, pii := range []string{"@example.com", "Acme", "Standup", "Li"} {
		if strings.Contains(string(raw), pii) {
			t.Errorf("the dry run report holds %q: %s", pii, raw)
		}
	}
	// Before the rules' date nothing changes.
	rep = decodeAs[report](t, f.call(t, "POST", "/api/policy/dry-run", `{"at":"2020-04-30T12:00:00Z"}`, ops.auth(true)...), http.StatusOK)
	if len(rep.Changes) != 0 {
		t.Fatalf("dry run on 2020-04-30: %+v", rep)
	}
	// Li hosts on 2020-05-02, with no rules running: the replay says the staged version
	// would have refused it, by account id.
	f.clock.set("2020-05-02")
	mf.schedule(t, li, `{}`)
	rep = decodeAs[report](t, f.call(t, "POST", "/api/policy/dry-run", `{}`, ops.auth(true)...), http.StatusOK)
	if r := rep.Replay; r.Changed != 1 || r.NowRefused != 1 || len(r.Changes) != 1 || r.Changes[0].Question != "host" ||
		r.Changes[0].NewRule != "cn-host-free" || r.Changes[0].OldCode != "allowed" || r.Changes[0].Subject == "" {
		t.Fatalf("replay after Li hosted on 2020-05-02: %+v", r)
	}
}

// A server whose clock is far from the browser's (here, replaying 2020) still keeps its
// users signed in: the session cookie's life is a Max-Age, not only an Expires date that
// the browser would find long past.
func TestSessionCookieLastsWhateverTheServerClock(t *testing.T) {
	f := newPolicyAPI(t, nil, "2020-05-02")
	r := f.call(t, "POST", "/api/signup", signUpBodyFor("individual", "ann@example.com", "US"))
	if c := r.cookie(t); c.MaxAge != int(account.DefaultSessionTTL/time.Second) {
		t.Fatalf("session cookie Max-Age %d, want %d", c.MaxAge, int(account.DefaultSessionTTL/time.Second))
	}
}

// A join or enter rule is asked when a signed-in participant joins: here the participants
// of one jurisdiction may not enter, and are told so with the rule; others still join.
func TestEnterRuleRefusesAJoinOverHTTP(t *testing.T) {
	doc := []byte(`version: "entry.1"
jurisdictions:
  - code: XA
    name: Example Land
    countries: [XA]
  - code: US
    name: United States
    countries: [US]
rules:
  - id: xa-enter-closed
    jurisdiction: XA
    question: enter
    effect: deny
    effective_from: 2020-01-01
    condition: facts.participant_country == "XA"
    reason_code: entry_closed_xa
    message: Participants in Example Land cannot join meetings.
    alternatives: [contact_sales]
`)
	f := newPolicyAPI(t, doc, "2020-05-02")
	host := f.signUpIn(t, "individual", "ann@example.com", "US")
	xa := f.signUpIn(t, "individual", "xa@example.com", "XA")
	us := f.signUpIn(t, "individual", "bob@example.com", "US")
	mf := &meetingsFixture{apiFixture: f.apiFixture}
	m := mf.schedule(t, host, `{}`)
	mf.startMeeting(t, host, m.ID)
	body := joinBody("meeting_id", m.DisplayID, "passcode", m.Passcode, "display_name", "P")
	ref := decodeAs[jurisdictionRefusalOut](t, f.call(t, "POST", "/api/join", body, xa.auth(true)...), http.StatusForbidden)
	if ref.Code != "entry_closed_xa" || ref.RuleID != "xa-enter-closed" || ref.Jurisdiction != "XA" || len(ref.Alternatives) != 1 {
		t.Fatalf("a participant from XA: %+v", ref)
	}
	decodeAs[ticketOut](t, f.call(t, "POST", "/api/join", body, us.auth(true)...), http.StatusOK)
}

type decisionOut struct {
	ID           string            `json:"id"`
	Question     string            `json:"question"`
	Subject      string            `json:"subject"`
	Allowed      bool              `json:"allowed"`
	Code         string            `json:"code"`
	RuleID       string            `json:"rule_id"`
	Jurisdiction string            `json:"jurisdiction"`
	Count        int64             `json:"count"`
	Facts        map[string]string `json:"facts"`
}

// Sign-up, hosting, joining and entering are each in the decision log with their facts,
// and the operator reads it filtered by rule, jurisdiction and outcome.
func TestDecisionLogOverHTTP(t *testing.T) {
	f := newPolicyAPI(t, china2020(t), "2020-04-30")
	ops := f.signUpIn(t, "business", testOperator, "US")
	us := f.signUpIn(t, "individual", "ann@example.com", "US")
	cn := f.signUpIn(t, "individual", "li@example.com", "CN")
	mf := &meetingsFixture{apiFixture: f.apiFixture}
	f.clock.set("2020-05-02")
	if r := f.call(t, "POST", "/api/meetings", `{}`, cn.auth(true)...); r.status != http.StatusForbidden {
		t.Fatalf("a free CN account hosting on 2020-05-02: %d %s", r.status, r.body)
	}
	m := mf.schedule(t, us, `{}`)
	mf.startMeeting(t, us, m.ID)
	if r := f.call(t, "POST", "/api/join", joinBody("meeting_id", m.DisplayID, "passcode", m.Passcode, "display_name", "Li"), cn.auth(true)...); r.status != http.StatusOK {
		t.Fatalf("the CN user joining: %d %s", r.status, r.body)
	}
	list := func(query string) []decisionOut {
		t.Helper()
		return decodeAs[struct{ Decisions []decisionOut }](t, f.call(t, "GET", "/api/policy/decisions"+query, "", ops.auth(false)...), http.StatusOK).Decisions
	}
	all := list("")
	questions := map[string]int{}
	for _, d := range all {
		questions[d.Question]++
	}
	// Two entries: the host's own as the meeting starts, and the CN participant's.
	if questions["register"] != 3 || questions["host"] < 3 || questions["join"] != 1 || questions["enter"] != 2 {
		t.Fatalf("questions logged %v: %+v", questions, all)
	}
	refused := list("?rule=cn-host-free")
	if len(refused) != 1 || refused[0].Allowed || refused[0].Question != "host" || refused[0].Code != "free_plan_cannot_host_cn" ||
		refused[0].Facts["country"] != "CN" || refused[0].Facts["plan"] != "free" || refused[0].Subject == "" {
		t.Fatalf("rule=cn-host-free: %+v", refused)
	}
	if got := list("?outcome=refused"); len(got) != 1 || got[0].ID != refused[0].ID {
		t.Fatalf("outcome=refused: %+v", got)
	}
	if got := list("?outcome=free_plan_cannot_host_cn"); len(got) != 1 || got[0].ID != refused[0].ID {
		t.Fatalf("outcome=<code>: %+v", got)
	}
	cnAllowed := list("?jurisdiction=CN&outcome=allowed")
	rules := []string{}
	for _, d := range cnAllowed {
		if !d.Allowed || d.Jurisdiction != "CN" {
			t.Fatalf("jurisdiction=CN&outcome=allowed: %+v", d)
		}
		rules = append(rules, d.RuleID)
	}
	slices.Sort(rules)
	if !slices.Equal(rules, []string{"cn-enter", "cn-join"}) {
		t.Fatalf("CN allows: %v", rules)
	}
	if got := list("?limit=1"); len(got) != 1 || got[0].ID != all[0].ID {
		t.Fatalf("limit=1: %+v", got)
	}
	for _, q := range []string{"?limit=0", "?limit=501", "?limit=x", "?rule=" + strings.Repeat("r", 65)} {
		if r := f.call(t, "GET", "/api/policy/decisions"+q, "", ops.auth(false)...); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	// No names or addresses: the log has ids and facts only.
	r := f.call(t, "GET", "/api/policy/decisions", "", ops.auth(false)...)
	if strings.Contains(string(r.body), "li@example.com") || strings.Contains(string(r.body), "Li") {
		t.Fatalf("the decision log carries personal data: %s", r.body)
	}
}
