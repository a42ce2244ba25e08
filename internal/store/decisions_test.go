package store

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func decisionIDs(ds []PolicyDecision) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func TestPolicyDecisions(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		t0 := time.Date(2020, 5, 2, 12, 0, 0, 0, time.UTC)
		in := []PolicyDecision{
			{ID: "d0", At: t0, Question: "host", Subject: "acc1", Facts: `{"country":"CN","plan":"free"}`, Code: "cn_free_no_host",
				RuleID: "cn-host-free", Jurisdiction: "CN", PolicyVersion: "v1"},
			{ID: "d1", At: t0.Add(time.Second), Question: "join", Subject: "acc1", Facts: `{"country":"CN"}`, Allowed: true,
				Code: "allowed", RuleID: "cn-join", Jurisdiction: "CN", PolicyVersion: "v1"},
			{ID: "d2", At: t0.Add(2 * time.Second), Question: "register", Facts: `{"country":"US"}`, Allowed: true, Code: "allowed",
				PolicyVersion: "v1", Count: 40},
		}
		for i, d := range in {
			got, err := s.AppendPolicyDecision(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if got.Region != testRegion || got.Count != max(d.Count, 1) {
				t.Fatalf("stored %+v", got)
			}
			in[i] = got
		}
		all, err := s.ListPolicyDecisions(ctx, DecisionQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 || all[0] != in[2] || all[2] != in[0] {
			t.Fatalf("every decision, newest first: %+v", all)
		}
		for _, c := range []struct {
			q    DecisionQuery
			want []string
		}{
			{DecisionQuery{RuleID: "cn-host-free"}, []string{"d0"}},
			{DecisionQuery{Jurisdiction: "CN"}, []string{"d1", "d0"}},
			{DecisionQuery{Outcome: OutcomeRefused}, []string{"d0"}},
			{DecisionQuery{Outcome: OutcomeAllowed}, []string{"d2", "d1"}},
			{DecisionQuery{Outcome: "cn_free_no_host"}, []string{"d0"}},
			{DecisionQuery{Jurisdiction: "CN", Outcome: OutcomeAllowed}, []string{"d1"}},
			{DecisionQuery{Since: t0.Add(time.Second)}, []string{"d2", "d1"}},
			{DecisionQuery{Limit: 1}, []string{"d2"}},
		} {
			got, err := s.ListPolicyDecisions(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(decisionIDs(got), c.want) {
				t.Errorf("%+v: %v, want %v", c.q, decisionIDs(got), c.want)
			}
		}
	})
}

func TestPrunePolicyDecisions(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		t0 := time.Date(2020, 5, 2, 12, 0, 0, 0, time.UTC)
		// Ten decisions a minute apart, the last two at the same moment.
		for i := range 10 {
			at := t0.Add(time.Duration(min(i, 8)) * time.Minute)
			if _, err := s.AppendPolicyDecision(ctx, PolicyDecision{ID: "d" + string(rune('0'+i)), At: at, Question: "join",
				Code: "allowed", Allowed: true}); err != nil {
				t.Fatal(err)
			}
		}
		// The retention window drops d0 and d1; the ceiling of 5 then drops d2 to d4.
		n, err := s.PrunePolicyDecisions(ctx, t0.Add(2*time.Minute), 5)
		if err != nil || n != 5 {
			t.Fatalf("pruned %d, %v; want 5", n, err)
		}
		got, err := s.ListPolicyDecisions(ctx, DecisionQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if ids := decisionIDs(got); !slices.Equal(ids, []string{"d9", "d8", "d7", "d6", "d5"}) {
			t.Fatalf("kept %v", ids)
		}
		// Under the ceiling and inside the window, nothing goes.
		if n, err := s.PrunePolicyDecisions(ctx, t0, 5); err != nil || n != 0 {
			t.Fatalf("pruned %d, %v; want 0", n, err)
		}
		// One tie at the ceiling: exactly the newest keep stay.
		if n, err := s.PrunePolicyDecisions(ctx, t0, 1); err != nil || n != 4 {
			t.Fatalf("pruned %d, %v; want 4", n, err)
		}
		if got, _ := s.ListPolicyDecisions(ctx, DecisionQuery{}); !slices.Equal(decisionIDs(got), []string{"d9"}) {
			t.Fatalf("kept %v", decisionIDs(got))
		}
	})
}

func TestPolicyActivations(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if _, err := s.LastPolicyActivation(ctx); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no activation yet: %v", err)
		}
		t0 := time.Date(2020, 5, 2, 12, 0, 0, 0, time.UTC)
		for i, v := range []string{"v1", "v2"} {
			if _, err := s.AppendPolicyActivation(ctx, PolicyActivation{At: t0.Add(time.Duration(i) * time.Hour), Actor: "u1",
				Name: "policy.yaml", Version: v, Source: []byte("version: " + v + "\n")}); err != nil {
				t.Fatal(err)
			}
		}
		a, err := s.LastPolicyActivation(ctx)
		if err != nil || a.Version != "v2" || string(a.Source) != "version: v2\n" || a.Actor != "u1" || !a.At.Equal(t0.Add(time.Hour)) {
			t.Fatalf("last activation %+v, %v", a, err)
		}
	})
}
