package browsertest

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/server"
)

// fixedClock is the server's clock, set to the dates the test replays.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// The 2020 mainland China timeline in the browser: a person with a CN address signs up
// (an individual, on 30 April); from 2 May their free account may not host, and the
// dashboard says why, by which rule, and what to do instead. A new individual sign-up
// with a CN address on 2 May is told it is for businesses only.
func TestChina2020RefusalsInTheBrowser(t *testing.T) {
	doc, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	clock := &fixedClock{t: time.Date(2020, 4, 30, 12, 0, 0, 0, time.UTC)}
	env := newEnvWith(t, server.Options{Now: clock.Now}, func(c *config.Config) { c.PolicyFile = policyFile })

	li := newUser(t, env, "li")
	li.Navigate("/signup")
	li.Fill("display_name", "Li Wei")
	li.Fill("email", "li@example.com")
	li.Fill("password", "correct horse battery staple")
	li.Fill("country", "CN")
	li.Click("form[data-testid=signup-form] button[type=submit]")
	li.WaitVisible("[data-testid=schedule-form]")

	clock.set(time.Date(2020, 5, 2, 9, 0, 0, 0, time.UTC))
	li.Click("[data-testid=instant-meeting]")
	text := li.WaitText("[data-testid=error]", "can no longer host them")
	for _, want := range []string{
		"Free accounts in mainland China can join meetings but can no longer host them.",
		"cn-host-free",
		"What you can do instead:",
		"you can still join meetings that others host",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the hosting refusal lacks %q: %q", want, text)
		}
	}
	if n := li.Count("[data-testid=policy-alternatives] li"); n != 2 {
		t.Errorf("%d alternatives shown, want 2 (join only, sales)", n)
	}
	if got := li.Attr("[data-testid=error]", "data-code"); got != "free_plan_cannot_host_cn" {
		t.Errorf("error code %q", got)
	}

	wang := newUser(t, env, "wang")
	wang.Navigate("/signup")
	wang.Fill("display_name", "Wang Fang")
	wang.Fill("email", "wang@example.com")
	wang.Fill("password", "correct horse battery staple")
	wang.Fill("country", "CN")
	wang.Click("form[data-testid=signup-form] button[type=submit]")
	text = wang.WaitText("[data-testid=error]", "businesses only")
	if !strings.Contains(text, "What you can do instead:") || wang.Count("[data-testid=policy-alternatives] li") != 2 {
		t.Errorf("the sign-up refusal: %q", text)
	}
}

// The operators' console: the running rules by date and by jurisdiction on a timeline, a
// refused document's problems by line (the running policy stays), staging (the staged
// version joins the timeline), the dry run's counts per region with the replay of the
// decision log, activating, and the decision log filtered by rule, jurisdiction and
// outcome.
func TestPolicyConsoleInTheBrowser(t *testing.T) {
	doc, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, func(c *config.Config) {
		c.PolicyFile = policyFile
		c.Operators = []string{"ops@example.com"}
	})
	ops := newUser(t, env, "ops")
	ops.Navigate("/signup")
	ops.Fill("display_name", "Olga Ops")
	ops.Fill("email", "ops@example.com")
	ops.Fill("password", "correct horse battery staple")
	ops.Fill("country", "US")
	ops.Click("form[data-testid=signup-form] button[type=submit]")
	ops.WaitVisible("[data-testid=schedule-form]")
	// A CN individual's sign-up, refused by cn-register-business-only: in the decision log.
	if _, _, err := env.Server.Accounts.SignUp(t.Context(), account.SignUpInput{AccountType: "individual", Email: "li@example.com",
		DisplayName: "Li", Password: "correct horse battery staple", Country: "CN", ClientIP: "192.0.2.7"}); err == nil {
		t.Fatal("a CN individual signed up under the 2020 rules")
	}
	ops.Click(`a[href="/console"]`)
	ops.WaitText("[data-testid=policy-running]", "Running: china-2020.1")
	if rows := ops.Texts("[data-testid=policy-running] tbody tr"); len(rows) != 12 || !strings.Contains(rows[0], "cn-data-residency") {
		t.Fatalf("rules on the timeline: %q", rows)
	}
	ops.WaitText("[data-testid=policy-origin]", "policy file")
	if n := ops.Count(`[data-testid=timeline-jurisdiction][data-jurisdiction=CN] [data-testid=timeline-rule][data-version=running]`); n != 12 {
		t.Fatalf("%d running rules on CN's timeline, want 12", n)
	}
	if text := ops.Text(`[data-testid=timeline-rule][data-rule=cn-host-free]`); !strings.Contains(text, "host deny") ||
		!strings.Contains(text, "2020") {
		t.Errorf("cn-host-free on the timeline: %q", text)
	}

	// The decision log: the operator's sign-up allowed, Li's refused; filtered.
	ops.WaitCount("[data-testid=decision]", 2)
	ops.Fill("decision-outcome", "refused")
	ops.WaitCount("[data-testid=decision]", 1)
	if text := ops.Text("[data-testid=decision]"); !strings.Contains(text, "cn-register-business-only") || !strings.Contains(text, "country=CN") {
		t.Errorf("the refused decision: %q", text)
	}
	ops.Fill("decision-outcome", "")
	ops.Fill("decision-rule", "cn-register-business-only")
	ops.WaitCount("[data-testid=decision]", 1)
	ops.Fill("decision-rule", "")
	ops.Fill("decision-jurisdiction", "CN")
	ops.WaitCount("[data-testid=decision]", 1)
	ops.Fill("decision-jurisdiction", "")
	ops.WaitCount("[data-testid=decision]", 2)

	ops.FillSelector("textarea[name=document]", "version: x\nrules: 1\n")
	ops.Click("[data-testid=policy-validate]")
	if text := ops.WaitText("[data-testid=policy-status] [data-testid=error]", "the running policy stays"); !strings.Contains(text, "policy.yaml:2") {
		t.Errorf("a refused document's problems: %q", text)
	}
	ops.Click("[data-testid=policy-stage]")
	ops.WaitText("[data-testid=policy-status] [data-testid=error]", "policy.yaml:2")
	ops.WaitText("[data-testid=policy-staged]", "Nothing is staged.")

	// The whole document is too long to type key by key: set it as a paste would.
	next, _ := json.Marshal(strings.Replace(string(doc), `"china-2020.1"`, `"china-2020.2"`, 1))
	ops.Eval(`document.querySelector("textarea[name=document]").value = `+string(next)+`, true`, nil)
	ops.Click("[data-testid=policy-stage]")
	ops.WaitText("[data-testid=policy-staged]", "Staged: china-2020.2")
	ops.WaitCount(`[data-testid=timeline-rule][data-version=staged]`, 12)
	ops.Fill("at", "2020-05-02")
	ops.Click("[data-testid=policy-dry-run-start]")
	ops.WaitText("[data-testid=policy-dry-run]", "From china-2020.1 to china-2020.2")
	if text := ops.Text(`[data-testid=policy-dry-run-regions] tr[data-region=local][data-answered=true]`); !strings.Contains(text, "china-2020.1") {
		t.Errorf("the region's row of the dry run: %q", text)
	}
	ops.WaitText("[data-testid=policy-replay]", "2 decisions replayed, 0 would change")
	ops.Click("[data-testid=policy-activate]")
	ops.WaitText("[data-testid=policy-running]", "Running: china-2020.2")
	ops.WaitText("[data-testid=policy-status]", "Rules added: none; removed: none; changed: none.")

	// Someone who is not an operator has no console.
	ann := newUser(t, env, "ann")
	ann.Navigate("/signup")
	ann.Fill("display_name", "Ann")
	ann.Fill("email", "ann@example.com")
	ann.Fill("password", "correct horse battery staple")
	ann.Fill("country", "US")
	ann.Click("form[data-testid=signup-form] button[type=submit]")
	ann.WaitVisible("[data-testid=schedule-form]")
	if n := ann.Count(`a[href="/console"]`); n != 0 {
		t.Errorf("a user who is not an operator is offered the console")
	}
	ann.Navigate("/console")
	ann.WaitText("[data-testid=error]", "Only operators")
}
