package decisionlog

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newLog(t testing.TB, o Options) (*Log, *store.Store, *clock) {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2020, 5, 2, 12, 0, 0, 0, time.UTC)}
	o.Now, o.Log = c.now, slog.New(slog.NewTextHandler(io.Discard, nil))
	l := New(st, o)
	t.Cleanup(func() { l.Close(context.Background()) })
	return l, st, c
}

// list reads the store once the writer has written what was recorded.
func list(t *testing.T, l *Log, st *store.Store) []store.PolicyDecision {
	t.Helper()
	if err := l.sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	ds, err := st.ListPolicyDecisions(t.Context(), store.DecisionQuery{Limit: store.MaxDecisionListLimit})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

var refused = policy.Decision{Code: "cn_business_only", RuleID: "cn-register-business-only", Jurisdiction: "CN", PolicyVersion: "v1"}

func TestRecordKeepsTheFacts(t *testing.T) {
	l, st, _ := newLog(t, Options{})
	f := policy.Facts{AccountType: "individual", Country: "CN", Plan: "free", Channel: "direct", HomeRegion: "cn-east"}
	l.Record(t.Context(), Made{Question: policy.QHost, Subject: "acc1", Facts: f,
		Decision: policy.Decision{Code: "cn_free_no_host", RuleID: "cn-host-free", Jurisdiction: "CN", PolicyVersion: "v1"}})
	ds := list(t, l, st)
	if len(ds) != 1 || ds[0].Question != "host" || ds[0].Subject != "acc1" || ds[0].Allowed || ds[0].RuleID != "cn-host-free" ||
		ds[0].Jurisdiction != "CN" || ds[0].PolicyVersion != "v1" || ds[0].Count != 1 {
		t.Fatalf("logged %+v", ds)
	}
	got, skipped, err := l.Recent(t.Context(), time.Time{}, 10)
	if err != nil || skipped != 0 || len(got) != 1 || got[0].Facts != f || got[0].Question != policy.QHost || got[0].Subject != "acc1" {
		t.Fatalf("recent %+v, %d, %v", got, skipped, err)
	}
}

// A flood of identical anonymous sign-ups writes one entry at once and one entry with the
// count when the window closes; a replay sees every one of them.
func TestAnonymousRepeatsAreSummed(t *testing.T) {
	l, st, c := newLog(t, Options{Window: time.Minute})
	f := policy.Facts{AccountType: "individual", Country: "CN", BillingCountry: "CN"}
	for range 1000 {
		l.Record(t.Context(), Made{Question: policy.QRegister, Facts: f, Decision: refused, Anonymous: true})
	}
	if ds := list(t, l, st); len(ds) != 1 || ds[0].Count != 1 {
		t.Fatalf("during the window: %+v", ds)
	}
	c.add(time.Minute)
	l.Tick(t.Context())
	ds := list(t, l, st)
	if len(ds) != 2 || ds[0].Count+ds[1].Count != 1000 {
		t.Fatalf("after the window: %+v", ds)
	}
	got, skipped, err := l.Recent(t.Context(), time.Time{}, 10)
	if err != nil || skipped != 0 || len(got) != 2 || got[0].Count+got[1].Count != 1000 {
		t.Fatalf("recent %+v, %d, %v", got, skipped, err)
	}
}

// Past MaxKeys kinds a window, anonymous decisions are counted per question and outcome,
// without facts: the rows stay bounded, and a replay says how many it could not replay.
func TestAnonymousOverflowIsBounded(t *testing.T) {
	l, st, c := newLog(t, Options{MaxKeys: 3})
	countries := []string{"AA", "AB", "AC", "AD", "AE", "AF", "AG", "AH"}
	for range 10 {
		for _, country := range countries {
			l.Record(t.Context(), Made{Question: policy.QRegister, Facts: policy.Facts{Country: country}, Decision: refused, Anonymous: true})
		}
	}
	c.add(time.Minute)
	l.Tick(t.Context())
	ds := list(t, l, st)
	// 3 firsts, 3 sums of their repeats, and 1 overflow entry.
	var total int64
	for _, d := range ds {
		total += d.Count
	}
	if len(ds) != 7 || total != 80 {
		t.Fatalf("%d rows for %d decisions: %+v", len(ds), total, ds)
	}
	_, skipped, err := l.Recent(t.Context(), time.Time{}, 100)
	if err != nil || skipped != 50 {
		t.Fatalf("skipped %d, %v; want the 50 decisions of the 5 countries past the ceiling", skipped, err)
	}
}

func TestTickPrunes(t *testing.T) {
	l, st, c := newLog(t, Options{Retention: time.Hour, MaxRows: 3, PruneEvery: time.Minute})
	for range 5 {
		l.Record(t.Context(), Made{Question: policy.QJoin, Subject: "acc1", Decision: policy.Decision{Allowed: true, Code: policy.CodeAllowed}})
		c.add(time.Second)
	}
	l.Tick(t.Context())
	if ds := list(t, l, st); len(ds) != 3 {
		t.Fatalf("%d rows kept, want the ceiling of 3", len(ds))
	}
	c.add(2 * time.Hour)
	l.Tick(t.Context())
	if ds := list(t, l, st); len(ds) != 0 {
		t.Fatalf("%d rows kept past the retention window", len(ds))
	}
}
