package policyadmin

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

// The dry run replays the decision log: a free CN account allowed to host under no rules
// would be refused by cn-host-free; a US account's decision, and one older than the
// replay window, are not reported.
func TestDryRunReplaysTheDecisionLog(t *testing.T) {
	svc, st, _ := newService(t, nil)
	now := time.Date(2020, 5, 2, 12, 0, 0, 0, time.UTC)
	dl := decisionlog.New(st, decisionlog.Options{Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	svc.o.Decisions = dl
	cn := policy.Facts{AccountType: "individual", Country: "CN", BillingCountry: "CN", Plan: "free", Channel: "direct"}
	us := policy.Facts{AccountType: "individual", Country: "US", BillingCountry: "US", Plan: "free", Channel: "direct"}
	allowed := policy.Decide(nil, policy.QHost, cn, now)
	ctx := t.Context()
	dl.Record(ctx, decisionlog.Made{Question: policy.QHost, Subject: "acc-cn", Facts: cn, Decision: allowed, At: now.Add(-time.Hour)})
	dl.Record(ctx, decisionlog.Made{Question: policy.QHost, Subject: "acc-us", Facts: us, Decision: allowed, At: now.Add(-time.Hour)})
	dl.Record(ctx, decisionlog.Made{Question: policy.QHost, Subject: "acc-old", Facts: cn, Decision: allowed, At: now.Add(-8 * 24 * time.Hour)})
	// A summed sign-up flood: 3 refusals of the same facts stand for 3 decisions.
	reg := policy.Facts{AccountType: "individual", Country: "CN", BillingCountry: "CN"}
	for range 3 {
		dl.Record(ctx, decisionlog.Made{Question: policy.QRegister, Facts: reg, Decision: allowed, At: now.Add(-time.Minute), Anonymous: true})
	}
	dl.Flush(ctx)

	next, err := policy.Load("next.yaml", example(t))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := svc.DryRun(ctx, Document{Name: "next.yaml", Source: example(t), Policy: next}, now)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Replay
	if !r.Available || r.Decisions != 5 || r.Changed != 4 || r.NowRefused != 4 || r.NowAllowed != 0 || !r.Since.Equal(now.Add(-DefaultReplayWindow)) {
		t.Fatalf("replay %+v", r)
	}
	var hosts, registers int64
	for _, c := range r.Changes {
		switch {
		case c.Question == "host" && c.Subject == "acc-cn" && c.NewRule == "cn-host-free" && !c.Allowed && c.Region == "local":
			hosts += c.Count
		case c.Question == "register" && c.NewRule == "cn-register-business-only":
			registers += c.Count
		default:
			t.Errorf("unexpected change %+v", c)
		}
	}
	if hosts != 1 || registers != 3 {
		t.Fatalf("changes %+v", r.Changes)
	}
	if len(rep.Regions) != 1 || !rep.Regions[0].Answered || rep.Regions[0].Replay.Changed != 4 {
		t.Fatalf("regions %+v", rep.Regions)
	}
}

// An activated version is kept in the region's store and is what a restart starts with;
// one that no longer loads stops the start, unless policy_file is asked for.
func TestActivationSurvivesARestart(t *testing.T) {
	svc, st, _ := newService(t, nil)
	svc.o.Activations = st
	ctx := t.Context()
	file := Document{Name: "/etc/meridian/policy.yaml"}
	if d, err := Startup(ctx, st, file, false); err != nil || d.Origin != OriginFile || d.Policy != nil {
		t.Fatalf("nothing activated: %+v, %v", d, err)
	}
	if _, err := svc.Stage(ctx, "u1", "policy.yaml", example(t)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Activate(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	d, err := Startup(ctx, st, file, false)
	if err != nil || d.Origin != OriginActivated || d.Policy == nil || d.Policy.Version != "china-2020.1" || d.ActivatedBy != "u1" {
		t.Fatalf("after an activation: %+v, %v", d, err)
	}
	if d, err := Startup(ctx, st, file, true); err != nil || d.Origin != OriginFile {
		t.Fatalf("policy_start file: %+v, %v", d, err)
	}
	if _, err := st.AppendPolicyActivation(ctx, store.PolicyActivation{At: time.Now(), Actor: "u2", Name: "policy.yaml", Version: "broken",
		Source: []byte("version: broken\nrules: 1\n")}); err != nil {
		t.Fatal(err)
	}
	if _, err := Startup(ctx, st, file, false); err == nil || !strings.Contains(err.Error(), `"broken"`) ||
		!strings.Contains(err.Error(), "policy_start: file") {
		t.Fatalf("a corrupt activated version: %v", err)
	}
	if d, err := Startup(ctx, st, file, true); err != nil || d.Origin != OriginFile {
		t.Fatalf("policy_start file past a corrupt one: %+v, %v", d, err)
	}
}

// The start is audited with the version and where it came from.
func TestAuditStart(t *testing.T) {
	_, st, _ := newService(t, nil)
	audit := auditlog.New(st, auditlog.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p, err := policy.Load("p.yaml", example(t))
	if err != nil {
		t.Fatal(err)
	}
	AuditStart(t.Context(), audit, Document{Name: "p.yaml", Policy: p, Origin: OriginActivated, ActivatedBy: "u1",
		ActivatedAt: time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)}, "/etc/p.yaml")
	es, err := st.ListAudit(t.Context(), store.AuditQuery{Actor: "system"})
	if err != nil || len(es) != 1 || es[0].Action != "policy.start" || es[0].Subject != "china-2020.1" ||
		!strings.Contains(es[0].Detail, "activated by u1") || !strings.Contains(es[0].Detail, "policy_file /etc/p.yaml not used") {
		t.Fatalf("audit %+v, %v", es, err)
	}
}

// announcements records the activations a Service announces.
type announcements []store.PolicyActivation

func (a *announcements) AnnounceActivation(_ context.Context, act store.PolicyActivation) error {
	*a = append(*a, act)
	return nil
}

// An activation is announced with its document; a node hearing one runs it and keeps it
// for the restart, unless it runs a later one; a document that does not load, or whose
// version is not the one announced, changes nothing.
func TestActivationAnnouncedAndApplied(t *testing.T) {
	ctx := t.Context()
	origin, _, _ := newService(t, nil)
	var sent announcements
	origin.o.Announcer = &sent
	if _, err := origin.Stage(ctx, "u1", "policy.yaml", example(t)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := origin.Activate(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Version != "china-2020.1" || sent[0].Actor != "u1" || !bytes.Equal(sent[0].Source, example(t)) {
		t.Fatalf("announced %+v", sent)
	}

	peer, st, holder := newService(t, nil)
	peer.o.Activations = st
	bad := sent[0]
	bad.Source = []byte("version: broken\nrules: 1\n")
	if err := peer.ApplyActivation(ctx, bad, "us-west-1"); err == nil {
		t.Fatal("a document that does not load was applied")
	}
	wrong := sent[0]
	wrong.Version = "china-2020.2"
	if err := peer.ApplyActivation(ctx, wrong, "us-west-1"); err == nil {
		t.Fatal("a document of another version than announced was applied")
	}
	if holder.Policy() != nil {
		t.Fatal("a refused announcement changed the running policy")
	}
	if err := peer.ApplyActivation(ctx, sent[0], "us-west-1"); err != nil {
		t.Fatal(err)
	}
	if p := holder.Policy(); p == nil || p.Version != "china-2020.1" || peer.Running().ActivatedBy != "u1" {
		t.Fatalf("running %+v", peer.Running())
	}
	if a, err := st.LastPolicyActivation(ctx); err != nil || a.Version != "china-2020.1" {
		t.Fatalf("kept %+v, %v", a, err)
	}
	// An older activation heard late does not replace the newer one.
	older := sent[0]
	older.At, older.Version, older.Source = older.At.Add(-time.Hour), "older.1", []byte("version: older.1\n")
	if err := peer.ApplyActivation(ctx, older, "eu-central-1"); err != nil || holder.Policy().Version != "china-2020.1" {
		t.Fatalf("an older activation: %v, running %s", err, holder.Policy().Version)
	}
}
