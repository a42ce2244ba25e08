package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

func writeExample(t *testing.T) string {
	t.Helper()
	b, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "china-2020.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := policyCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestPolicyValidateCommand(t *testing.T) {
	if out, err := run(t, "validate", writeExample(t)); err != nil || !strings.Contains(out, "version china-2020.1") {
		t.Fatalf("a good file: %q, %v", out, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: x\njurisdictions:\n  - code: CN\n    name: China\n    countries: [CN]\n    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "validate", bad)
	if err == nil || !strings.Contains(err.Error(), bad+`:6: `) {
		t.Fatalf("a bad file: %v", err)
	}
}

// `meridian policy diff` over a known store: two free CN accounts and a US one, and a
// scheduled meeting of one of the CN accounts.
func TestPolicyDiffCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(t.Context(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, c := range []string{"CN", "CN", "US"} {
		a, u, err := st.CreateAccountWithOwner(t.Context(), store.Account{Type: "individual", Name: "N", Plan: "free", Country: c, BillingCountry: c},
			store.User{Email: string(rune('a'+i)) + "@example.com", DisplayName: "N", PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
		if i == 0 {
			if _, err := st.CreateMeeting(t.Context(), store.Meeting{ID: "12345678901", AccountID: a.ID, HostUserID: u.ID, Topic: "T",
				Kind: "scheduled", StartsAt: time.Date(2020, 5, 4, 9, 0, 0, 0, time.UTC), DurationMinutes: 30, TimeZone: "UTC",
				JoinTokenHash: store.HashToken("j"), Status: store.MeetingScheduled}); err != nil {
				t.Fatal(err)
			}
		}
	}
	st.Close()

	out, err := run(t, "diff", "--to", writeExample(t), "--at", "2020-05-02", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`from \(no rules\) to china-2020.1 at 2020-05-02T00:00:00Z`,
		`\n\S+\s+account\s+3\s+2\s+2\s+0\n`,
		`\n\S+\s+meeting\s+1\s+1\s+1\s+0\n`,
		`(?s)affected accounts:\n(  \S+ \(\S+\): allowed -> free_plan_cannot_host_cn \(rule cn-host-free\)\n){2}`,
		`affected meetings:\n  12345678901 \(\S+\): allowed -> free_plan_cannot_host_cn`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if !strings.Contains(out, ids[0]) || !strings.Contains(out, ids[1]) || strings.Contains(out, ids[2]) {
		t.Errorf("affected ids: want %s and %s, not %s:\n%s", ids[0], ids[1], ids[2], out)
	}
	if strings.Contains(out, "@example.com") {
		t.Errorf("the report names people:\n%s", out)
	}

	out, err = run(t, "diff", "--to", writeExample(t), "--at", "2020-04-30", "--data", dir)
	if err != nil || strings.Contains(out, "affected") {
		t.Fatalf("before the rules' date: %v\n%s", err, out)
	}
	if _, err := run(t, "diff", "--to", writeExample(t), "--at", "May 2nd", "--data", dir); err == nil {
		t.Fatal("a malformed --at was taken")
	}
}
