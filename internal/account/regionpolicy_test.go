package account

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

// closesCN is a policy under which, from 1 June 2030, meetings of US accounts may no
// longer be carried in mainland China: a change_regions rule.
const closesCN = `version: "regions-test.1"
jurisdictions:
  - {code: CN, name: Mainland China, countries: [CN], regions: [cn-north], opt_in_regions: [cn-north]}
  - {code: US, name: United States, countries: [US], regions: [us-west]}
rules:
  - id: us-no-cn-carriage
    jurisdiction: US
    question: change_regions
    effect: deny
    effective_from: 2030-06-01
    condition: facts.region == "cn-north"
    reason_code: cn_carriage_closed_us
    message: From 1 June 2030, meetings of US accounts may no longer be carried in mainland China.
    alternatives: [contact_sales]
`

// An account adding a region is asked the policy's change_regions question at that
// moment: the same change allowed before a rule's date is refused after it, with the
// rule, audited, and nothing changed; regions it keeps, and regions no rule touches,
// are not refused.
func TestAddingARegionIsDecidedByThePolicy(t *testing.T) {
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "us-west"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pol, err := policy.Load("regions-test.yaml", []byte(closesCN))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, mail: &recordingSender{}, clock: &fakeClock{now: time.Date(2030, 5, 30, 12, 0, 0, 0, time.UTC)}}
	f.svc, err = New(st, f.mail, Options{Now: f.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deployment: threeRegions, Region: "us-west", Policy: policy.NewHolder(pol)})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateAccountWithOwner(t.Context(), store.Account{Type: TypeBusiness, Name: "Acme", Plan: string(Business), Country: "US", BillingCountry: "US"},
		store.User{Email: "ops@acme.example", DisplayName: "Ada", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	p, _, err := f.svc.SignIn(t.Context(), "ops@acme.example", pw, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	withCN := RegionsInput{Allowed: []string{"us-west", "cn-north"}, AcknowledgeOptIn: []string{"cn-north"}}
	if _, err := f.svc.SetRegions(t.Context(), p, withCN); err != nil {
		t.Fatalf("before the rule's date: %v", err)
	}
	// Kept after the date: the rule decides changes, and this one is not one.
	f.clock.Advance(72 * time.Hour)
	if _, err := f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: []string{"us-west", "cn-north", "eu-central"}}); err != nil {
		t.Fatalf("adding eu-central, keeping cn-north: %v", err)
	}
	if _, err := f.svc.SetRegions(t.Context(), p, RegionsInput{Allowed: []string{"us-west"}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.SetRegions(t.Context(), p, withCN)
	var e *Error
	if !errors.As(err, &e) || e.Code != "cn_carriage_closed_us" || e.Decision == nil || e.Decision.RuleID != "us-no-cn-carriage" ||
		e.Decision.Jurisdiction != "US" {
		t.Fatalf("after the rule's date: %v", err)
	}
	if got := f.allowed(t, p); got != "us-west" {
		t.Fatalf("allowed %q after the refusal", got)
	}
	es := slices.DeleteFunc(f.regionAudits(t, p.Account.ID), func(e store.AuditEntry) bool { return e.Outcome == "ok" })
	if len(es) != 1 || es[0].Outcome != "cn_carriage_closed_us" || es[0].Detail != "region=cn-north rule=us-no-cn-carriage jurisdiction=US policy=regions-test.1" {
		t.Fatalf("audit of refusals %+v", es)
	}
}
