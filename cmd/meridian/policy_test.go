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

// `meridian policy diff` over a known store: two free CN accounts and a US one, a
// scheduled meeting of one of the CN accounts, and a CN business with a direct
// subscription billed to CN.
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
	subID := paidSubscription(t, st)
	st.Close()

	out, err := run(t, "diff", "--to", writeExample(t), "--at", "2020-05-02", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`from \(no rules\) to china-2020.1 at 2020-05-02T00:00:00Z`,
		`\n\S+\s+account\s+4\s+2\s+2\s+0\n`,
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

	if strings.Contains(out, "affected subscriptions") {
		t.Errorf("a subscription is affected on 2020-05-02 (renewals close on 2020-08-23):\n%s", out)
	}

	out, err = run(t, "diff", "--to", writeExample(t), "--at", "2020-08-24", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`\n\S+\s+account\s+4\s+2\s+2\s+0\n`,
		`\n\S+\s+subscription\s+1\s+1\s+1\s+0\n`,
		`affected subscriptions:\n  ` + subID + ` \(\S+\): allowed -> direct_renewal_closed_cn \(rule cn-renew-via-partner\)\n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output on 2020-08-24 lacks %s:\n%s", want, out)
		}
	}

	out, err = run(t, "diff", "--to", writeExample(t), "--at", "2020-04-30", "--data", dir)
	if err != nil || strings.Contains(out, "affected") {
		t.Fatalf("before the rules' date: %v\n%s", err, out)
	}
	if _, err := run(t, "diff", "--to", writeExample(t), "--at", "May 2nd", "--data", dir); err == nil {
		t.Fatal("a malformed --at was taken")
	}
}

// paidSubscription stores a CN business on the pro plan with a direct subscription billed
// to CN, and returns the subscription's id.
func paidSubscription(t *testing.T, st *store.Store) string {
	t.Helper()
	ctx := t.Context()
	a, _, err := st.CreateAccountWithOwner(ctx, store.Account{Type: "business", Name: "Acme", Plan: "free", Country: "CN", BillingCountry: "CN"},
		store.User{Email: "acme@example.com", DisplayName: "N", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2020, 1, 10, 12, 0, 0, 0, time.UTC)
	o, err := st.CreateOrder(ctx, store.Order{AccountID: a.ID, IdempotencyKey: "k1", Kind: "new", Channel: store.ChannelDirect, Plan: "pro",
		Interval: store.IntervalMonth, Currency: "USD", AmountMinor: 1499, BillingCountry: "CN", Status: store.OrderPending, CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	sub, _, err := st.RecordPayment(ctx, store.Payment{OrderID: o.ID, ChargeID: "ch_1", At: t0,
		Subscription: store.Subscription{AccountID: a.ID, Channel: store.ChannelDirect, Plan: "pro", Interval: store.IntervalMonth,
			Currency: "USD", AmountMinor: 1499, BillingCountry: "CN", Status: store.SubscriptionActive, PeriodStart: t0, PeriodEnd: t0.AddDate(1, 0, 0)},
		Invoice: store.Invoice{SellerChannel: store.ChannelDirect, SellerName: "Meridian", BuyerName: "Acme", BillingCountry: "CN",
			Description: "Subscription", Currency: "USD", AmountMinor: 1499, PeriodStart: t0, PeriodEnd: t0.AddDate(1, 0, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	return sub.ID
}

// `meridian policy diff` replays the store's recent decision log: a free CN account was
// allowed to host an hour ago under no rules; the example would refuse it. Without --from,
// the current policy is the last version activated in the store.
func TestPolicyDiffReplaysTheDecisionLog(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(t.Context(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendPolicyDecision(t.Context(), store.PolicyDecision{ID: "DECISION1", At: time.Now().Add(-time.Hour), Question: "host",
		Subject: "ACCOUNT1", Facts: `{"account_type":"individual","country":"CN","billing_country":"CN","plan":"free","channel":"direct"}`,
		Allowed: true, Code: "allowed"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, err := run(t, "diff", "--to", writeExample(t), "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`decision log since \S+: 1 decisions replayed, 1 would change \(1 now refused, 0 now allowed\)\n` +
		`  DECISION1 \S+ host of ACCOUNT1 x1: allowed -> \S+ \(rule cn-host-free-partners\)\n`).MatchString(out) {
		t.Fatalf("replay:\n%s", out)
	}

	src, err := os.ReadFile(writeExample(t))
	if err != nil {
		t.Fatal(err)
	}
	if st, err = store.Open(t.Context(), store.Config{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendPolicyActivation(t.Context(), store.PolicyActivation{Actor: "u1", Name: "policy.yaml", Version: "china-2020.1", Source: src}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, err = run(t, "diff", "--to", writeExample(t), "--data", dir)
	if err != nil || !strings.HasPrefix(out, "from china-2020.1 to china-2020.1") {
		t.Fatalf("from the activated version: %v\n%s", err, out)
	}
}
