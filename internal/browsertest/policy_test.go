package browsertest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
