package policy

import (
	"cmp"
	"slices"
	"time"
)

// Subject is one thing a policy change may touch: an account, a subscription or a
// scheduled meeting, by an opaque id, with the question to ask about it and its facts. The
// caller computes subjects in each region, so that no personal data leaves it.
type Subject struct {
	ID       string
	Kind     string // "account", "subscription", "meeting"
	Region   string
	Question Question
	Facts    Facts
}

// Change is a subject whose decision differs between two policies.
type Change struct {
	Subject  *Subject // into the subjects given
	Old, New Decision
}

// Count tallies subjects of one region and kind.
type Count struct {
	Region, Kind string
	Subjects     int // asked about
	Changed      int // decided differently
	NowRefused   int // allowed by the old policy, refused by the new
	NowAllowed   int // refused by the old policy, allowed by the new
}

// DiffReport is what activating a new policy would change at one moment.
type DiffReport struct {
	At      time.Time
	Changes []Change // in the order of the subjects given
	Counts  []Count  // by region, then kind
}

// differs reports whether two decisions come out differently: allowed or not, by which
// code or rule.
func differs(a, b Decision) bool {
	return a.Allowed != b.Allowed || a.Code != b.Code || a.RuleID != b.RuleID
}

// Diff decides every subject under the old and the next policy at the moment at, and
// reports those decided differently, with counts by region and kind.
func Diff(old, next *Policy, at time.Time, subjects []Subject) DiffReport {
	rep := DiffReport{At: at}
	type key struct{ region, kind string }
	counts := map[key]*Count{}
	for i := range subjects {
		s := &subjects[i]
		c := counts[key{s.Region, s.Kind}]
		if c == nil {
			c = &Count{Region: s.Region, Kind: s.Kind}
			counts[key{s.Region, s.Kind}] = c
		}
		c.Subjects++
		o, n := Decide(old, s.Question, s.Facts, at), Decide(next, s.Question, s.Facts, at)
		if !differs(o, n) {
			continue
		}
		c.Changed++
		switch {
		case o.Allowed && !n.Allowed:
			c.NowRefused++
		case !o.Allowed && n.Allowed:
			c.NowAllowed++
		}
		rep.Changes = append(rep.Changes, Change{Subject: s, Old: o, New: n})
	}
	for _, c := range counts {
		rep.Counts = append(rep.Counts, *c)
	}
	slices.SortFunc(rep.Counts, func(a, b Count) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Kind, b.Kind))
	})
	return rep
}

// LoggedDecision is a decision from the decision log, with the facts it was made from.
type LoggedDecision struct {
	ID       string
	At       time.Time
	Question Question
	// Subject is the opaque id of the account or meeting it was about, "" for none.
	Subject string
	Facts   Facts
	Allowed bool
	Code    string
	RuleID  string
	// Count is how many identical decisions the entry stands for (0 counts as 1).
	Count int64
}

// ReplayChange is a logged decision that a policy would make differently.
type ReplayChange struct {
	Logged LoggedDecision
	New    Decision
}

// Replay decides every logged decision again under p, at the moment it was made, and
// returns those that come out differently, in log order.
func Replay(p *Policy, log []LoggedDecision) []ReplayChange {
	var out []ReplayChange
	for _, l := range log {
		d := Decide(p, l.Question, l.Facts, l.At)
		if differs(Decision{Allowed: l.Allowed, Code: l.Code, RuleID: l.RuleID}, d) {
			out = append(out, ReplayChange{Logged: l, New: d})
		}
	}
	return out
}
