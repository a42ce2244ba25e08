package server_test

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/policyadmin"
	"github.com/meridian-video/meridian/internal/server/servertest"
	"github.com/meridian-video/meridian/internal/store"
)

// A dry run asked of one node covers every region: each region's part is computed by its
// own node over its own store and decision log, and comes back as counts and ids. A
// region whose nodes are gone is reported as not answering, its subjects not counted.
// A supercluster of three regions: a heavy test, as every test of this package.
func TestDryRunAcrossRegions(t *testing.T) {
	dep := servertest.StartDeployment(t, servertest.Spec{Regions: []string{"us-west:US", "eu-central:EU", "jp-east:JP"}})
	ctx := t.Context()
	src, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	next, err := policy.Load("china-2020.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	// In each region, one free account with a CN address, homed there, and a decision it
	// was allowed under no rules.
	cnAccount := map[string]string{}
	for _, n := range dep.Nodes {
		a, _, err := n.Store.CreateAccountWithOwner(ctx, store.Account{Type: "individual", Name: "N", Plan: "free", Country: "CN", BillingCountry: "CN"},
			store.User{Email: "cn@" + n.Region() + ".example.com", DisplayName: "N", PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		cnAccount[n.Region()] = a.ID
		f := policy.Facts{AccountType: "individual", Country: "CN", BillingCountry: "CN", Plan: "free", Channel: "direct", HomeRegion: n.Region()}
		n.Decisions.Record(ctx, decisionlog.Made{Question: policy.QHost, Subject: a.ID, Facts: f, Decision: policy.Decide(nil, policy.QHost, f, time.Now())})
	}
	asker := dep.Region("us-west")[0]
	at := time.Date(2020, 5, 2, 12, 0, 0, 0, time.UTC)
	rep, err := asker.Policy.DryRun(ctx, policyadmin.Document{Name: "china-2020.yaml", Source: src, Policy: next}, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Regions) != 3 {
		t.Fatalf("regions %+v", rep.Regions)
	}
	for _, r := range rep.Regions {
		if !r.Answered || r.Subjects != 1 || r.Changed != 1 || r.Replay.Changed != 1 {
			t.Errorf("region %+v", r)
		}
	}
	for region, id := range cnAccount {
		i := slices.IndexFunc(rep.Changes, func(c policyadmin.SubjectChange) bool { return c.ID == id })
		if i < 0 || rep.Changes[i].Region != region || rep.Changes[i].NewRule != "cn-host-free" {
			t.Errorf("%s's account %s: changes %+v", region, id, rep.Changes)
		}
		j := slices.IndexFunc(rep.Replay.Changes, func(c policyadmin.ReplayChange) bool { return c.Subject == id })
		if j < 0 || rep.Replay.Changes[j].Region != region || rep.Replay.Changes[j].Allowed {
			t.Errorf("%s's decision: replay %+v", region, rep.Replay.Changes)
		}
	}

	// Activated on one node, the version runs on every node of every region, and is kept
	// in each region's store for the restart.
	if _, err := asker.Policy.Stage(ctx, "ops-1", "china-2020.yaml", src); err != nil {
		t.Fatal(err)
	}
	if _, _, err := asker.Policy.Activate(ctx, "ops-1"); err != nil {
		t.Fatal(err)
	}
	for _, n := range dep.Nodes {
		deadline := time.Now().Add(10 * time.Second)
		for n.Policy.Running().Policy == nil || n.Policy.Running().Policy.Version != "china-2020.1" {
			if time.Now().After(deadline) {
				t.Fatalf("%s runs %+v after the activation on %s", n.NodeID(), n.Policy.Running(), asker.NodeID())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if d := n.Policy.Running(); d.ActivatedBy != "ops-1" || d.Origin != policyadmin.OriginActivated {
			t.Errorf("%s: running %+v", n.NodeID(), d)
		}
		if a, err := n.Store.LastPolicyActivation(ctx); err != nil || a.Version != "china-2020.1" {
			t.Errorf("%s's region keeps %+v, %v", n.NodeID(), a, err)
		}
	}

	// jp-east goes away: it is reported, not skipped.
	if err := dep.Region("jp-east")[0].Close(); err != nil {
		t.Fatal(err)
	}
	rep, err = asker.Policy.DryRun(ctx, policyadmin.Document{Name: "china-2020.yaml", Source: src, Policy: next}, at)
	if err != nil {
		t.Fatal(err)
	}
	byRegion := map[string]policyadmin.RegionReport{}
	for _, r := range rep.Regions {
		byRegion[r.Region] = r
	}
	if r := byRegion["jp-east"]; r.Answered || r.Error == "" {
		t.Fatalf("the region that is gone: %+v", r)
	}
	if !byRegion["us-west"].Answered || !byRegion["eu-central"].Answered {
		t.Fatalf("the regions still up: %+v", rep.Regions)
	}
	for _, c := range rep.Counts {
		if c.Region == "jp-east" || strings.Contains(c.Region, "jp") {
			t.Fatalf("counts of a region that did not answer: %+v", rep.Counts)
		}
	}
	t.Logf("jp-east: %s", byRegion["jp-east"].Error)
}
