package policy

import (
	"slices"
	"strings"
	"testing"
)

// chinaNext is the China policy changed: renewals no longer go to the partners, and from
// 2020-09-01 free CN accounts no longer join either.
func chinaNext(t testing.TB) *Policy {
	t.Helper()
	doc := mustExample(t)
	doc = doc[:strings.Index(doc, "  - id: cn-renew-via-partner")] + `  - id: cn-join-free
    jurisdiction: CN
    question: join
    effect: deny
    effective_from: 2020-09-01
    condition: facts.plan == "free" && facts.country == "CN"
    reason_code: free_plan_cannot_join_cn
    message: Free accounts in mainland China can no longer join meetings.
    alternatives: [partners]
`
	p, err := Load("china-next.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDiff(t *testing.T) {
	old, next := china(t), chinaNext(t)
	subjects := []Subject{
		{ID: "a1", Kind: "account", Region: "cn-east", Question: QJoin, Facts: cnFree},
		{ID: "a2", Kind: "account", Region: "cn-east", Question: QJoin, Facts: cnBusiness},
		{ID: "a3", Kind: "account", Region: "us-east", Question: QJoin, Facts: usFree},
		{ID: "m1", Kind: "meeting", Region: "cn-east", Question: QHost, Facts: cnFree},
		{ID: "s1", Kind: "subscription", Region: "cn-east", Question: QRenew, Facts: cnBusiness},
		{ID: "s2", Kind: "subscription", Region: "us-east", Question: QRenew, Facts: usFree},
	}
	rep := Diff(old, next, day("2020-09-02"), subjects)
	var ids []string
	for _, c := range rep.Changes {
		ids = append(ids, c.Subject.ID)
	}
	if !slices.Equal(ids, []string{"a1", "s1"}) {
		t.Fatalf("changed: %v", ids)
	}
	if c := rep.Changes[0]; !c.Old.Allowed || c.New.Allowed || c.New.RuleID != "cn-join-free" || len(c.New.Alternatives) != 3 {
		t.Errorf("a1: %+v", c)
	}
	if c := rep.Changes[1]; c.Old.Allowed || c.Old.RuleID != "cn-renew-via-partner" || !c.New.Allowed {
		t.Errorf("s1: %+v", c)
	}
	want := []Count{
		{Region: "cn-east", Kind: "account", Subjects: 2, Changed: 1, NowRefused: 1},
		{Region: "cn-east", Kind: "meeting", Subjects: 1},
		{Region: "cn-east", Kind: "subscription", Subjects: 1, Changed: 1, NowAllowed: 1},
		{Region: "us-east", Kind: "account", Subjects: 1},
		{Region: "us-east", Kind: "subscription", Subjects: 1},
	}
	if !slices.Equal(rep.Counts, want) {
		t.Errorf("counts:\n%+v\nwant\n%+v", rep.Counts, want)
	}
	// Before the new rule takes effect only the renewal differs.
	if rep := Diff(old, next, day("2020-08-24"), subjects); len(rep.Changes) != 1 || rep.Changes[0].Subject.ID != "s1" {
		t.Errorf("on 2020-08-24: %+v", rep.Changes)
	}
	if rep := Diff(old, old, day("2020-09-02"), subjects); len(rep.Changes) != 0 {
		t.Errorf("a policy against itself: %+v", rep.Changes)
	}
}

func TestReplay(t *testing.T) {
	old, next := china(t), chinaNext(t)
	var log []LoggedDecision
	for i, e := range []struct {
		q  Question
		f  Facts
		at string
	}{
		{QJoin, cnFree, "2020-09-02"},      // refused under next
		{QJoin, cnFree, "2020-08-24"},      // before cn-join-free: the same
		{QRenew, cnBusiness, "2020-09-02"}, // allowed under next
		{QHost, usFree, "2020-09-02"},
	} {
		d := Decide(old, e.q, e.f, day(e.at))
		log = append(log, LoggedDecision{ID: string(rune('a' + i)), At: day(e.at), Question: e.q, Facts: e.f,
			Allowed: d.Allowed, Code: d.Code, RuleID: d.RuleID})
	}
	got := Replay(next, log)
	if len(got) != 2 || got[0].Logged.ID != "a" || got[0].New.Code != "free_plan_cannot_join_cn" ||
		got[1].Logged.ID != "c" || !got[1].New.Allowed {
		t.Errorf("replay: %+v", got)
	}
	if got := Replay(old, log); len(got) != 0 {
		t.Errorf("replayed under the policy that made them: %+v", got)
	}
}
