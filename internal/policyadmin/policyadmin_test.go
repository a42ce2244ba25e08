package policyadmin

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

func example(t *testing.T) []byte {
	t.Helper()
	b, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newService(t *testing.T, running []byte) (*Service, *store.Store, *policy.Holder) {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var p *policy.Policy
	if running != nil {
		if p, err = policy.Load("running.yaml", running); err != nil {
			t.Fatal(err)
		}
	}
	h := policy.NewHolder(p)
	now := func() time.Time { return time.Date(2020, 5, 2, 12, 0, 0, 0, time.UTC) }
	audit := auditlog.New(st, auditlog.Options{Now: now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return New(h, Document{Name: "running.yaml", Source: running}, st, Options{Now: now, Audit: audit}), st, h
}

func TestStageRefusedKeepsEverything(t *testing.T) {
	svc, st, h := newService(t, example(t))
	running := h.Policy()
	if _, err := svc.Stage(t.Context(), "u1", "policy.yaml", []byte("version: x\nrules: 1\n")); err == nil {
		t.Fatal("a document that does not load was staged")
	}
	if _, ok := svc.Staged(); ok || h.Policy() != running || svc.Running().Policy != running {
		t.Fatal("a refused document changed the staged or running policy")
	}
	entries, err := st.ListAudit(t.Context(), store.AuditQuery{Actor: "u1"})
	if err != nil || len(entries) != 1 || entries[0].Action != "policy.stage" || entries[0].Outcome != "invalid_policy" {
		t.Fatalf("audit of the refused stage: %+v, %v", entries, err)
	}
	if _, _, err := svc.Activate(t.Context(), "u1"); !errors.Is(err, ErrNothingStaged) {
		t.Fatalf("activate with nothing staged: %v", err)
	}
}

func TestCompareRules(t *testing.T) {
	old, err := policy.Load("a.yaml", example(t))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(example(t)), "can no longer host them.", "may no longer host them.", 1)
	edited = strings.Replace(edited, "  - id: cn-enter\n", "  - id: cn-enter-2\n", 1)
	next, err := policy.Load("b.yaml", []byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	c := CompareRules(old, next)
	if !slices.Equal(c.Added, []string{"cn-enter-2"}) || !slices.Equal(c.Removed, []string{"cn-enter"}) ||
		!slices.Equal(c.Changed, []string{"cn-host-free"}) {
		t.Fatalf("changes %+v", c)
	}
	if c := CompareRules(nil, old); len(c.Added) != len(old.Rules) || len(c.Removed) != 0 {
		t.Fatalf("from no policy: %+v", c)
	}
	if c := CompareRules(old, nil); len(c.Removed) != len(old.Rules) || len(c.Added) != 0 {
		t.Fatalf("to no policy: %+v", c)
	}
}
