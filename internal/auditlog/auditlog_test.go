package auditlog

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/store"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newLog(t *testing.T, maxKeys int) (*Log, *store.Store, *fakeClock) {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &fakeClock{now: time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)}
	return New(st, Options{Now: c.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxKeys: maxKeys}), st, c
}

func entries(t *testing.T, st *store.Store) ([]store.AuditEntry, int64) {
	t.Helper()
	es, err := st.ListAudit(t.Context(), store.AuditQuery{Limit: store.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, e := range es {
		sum += e.Count
	}
	return es, sum
}

func refusal(outcome string) store.AuditEntry {
	return store.AuditEntry{Actor: "anonymous", Action: "meeting.join", Subject: "12345678901", Outcome: outcome, Detail: "ip=x"}
}

// The first refusal of a kind is written at once, its repeats as one entry with their
// count when the window closes; decisions are written one by one.
func TestRepeatedRefusalsAreOneEntryAWindow(t *testing.T) {
	l, st, c := newLog(t, 0)
	ctx := t.Context()
	l.Write(ctx, store.AuditEntry{Actor: "u1", Action: "meeting.start", Subject: "12345678901", Outcome: "ok"})
	l.Write(ctx, store.AuditEntry{Actor: "u1", Action: "meeting.start", Subject: "12345678901", Outcome: "ok"})
	for range 500 {
		l.Refusal(ctx, "2001:db8::1", refusal("wrong_passcode"))
		l.Refusal(ctx, "2001:db8::2", refusal("wrong_passcode")) // the same /64
	}
	if es, sum := entries(t, st); len(es) != 3 || sum != 3 {
		t.Fatalf("before the window closes: %d entries counting %d, want 2 decisions and the first refusal", len(es), sum)
	}
	l.Tick(ctx)
	if es, _ := entries(t, st); len(es) != 3 {
		t.Fatalf("a tick within the window wrote %d entries", len(es)-3)
	}
	c.Advance(DefaultWindow)
	l.Tick(ctx)
	es, sum := entries(t, st)
	if len(es) != 4 || sum != 1002 {
		t.Fatalf("after the window: %d entries counting %d, want 4 counting 1002", len(es), sum)
	}
	summaries := 0
	for _, e := range es { // entries of one instant of the fixed clock have no order
		if e.Count > 1 {
			summaries++
			if e.Count != 999 || e.Outcome != "wrong_passcode" || e.Subject != "12345678901" || e.Actor != "anonymous" {
				t.Fatalf("summary %+v", e)
			}
		}
	}
	if summaries != 1 {
		t.Fatalf("%d summaries in %+v", summaries, es)
	}
	// A new window starts over: its first refusal is written at once again.
	l.Refusal(ctx, "2001:db8::1", refusal("wrong_passcode"))
	if es, _ := entries(t, st); len(es) != 5 {
		t.Fatalf("first refusal of a new window: %d entries", len(es))
	}
}

// Past MaxKeys sources in a window, refusals are only counted, per action and outcome: a
// flood from many addresses writes a bounded number of rows, and Flush (at shutdown)
// writes what was counted.
func TestRefusalsPastTheCeilingAreOnlyCounted(t *testing.T) {
	l, st, _ := newLog(t, 50)
	ctx := t.Context()
	const n = 5000
	for i := range n {
		l.Refusal(ctx, fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), refusal("not_found"))
		l.Refusal(ctx, fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), refusal("rate_limited"))
	}
	l.Flush(ctx)
	es, sum := entries(t, st)
	if len(es) > 50+2 || sum != 2*n {
		t.Fatalf("%d entries counting %d, want at most 52 counting %d", len(es), sum, 2*n)
	}
}

// Record sums an anonymous request's refusals only; a signed-in user's refusals and every
// success it writes one by one (a caller that wants them summed calls Refusal).
func TestRecordSumsOnlyAnonymousRefusals(t *testing.T) {
	l, st, _ := newLog(t, 0)
	ctx := t.Context()
	signedIn := store.AuditEntry{Actor: "u1", Action: "meeting.join", Subject: "12345678901", Outcome: "wrong_passcode"}
	anonymousOK := store.AuditEntry{Actor: "anonymous", Action: "meeting.join", Subject: "12345678901", Outcome: "ok"}
	for range 3 {
		l.Record(ctx, "192.0.2.1", refusal("wrong_passcode"))
		l.Record(ctx, "192.0.2.1", signedIn)
		l.Record(ctx, "192.0.2.1", anonymousOK)
	}
	// The first anonymous refusal at once (its repeats wait for the window), the other six
	// one by one.
	if es, sum := entries(t, st); len(es) != 7 || sum != 7 {
		t.Fatalf("%d entries counting %d, want 7: %+v", len(es), sum, es)
	}
}
