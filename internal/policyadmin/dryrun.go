package policyadmin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

// Source is the local store a dry run reads subjects from (*store.Store is one). It is this
// region's: a dry run over it reports ids and counts only, so no personal data leaves it.
type Source interface {
	ListAccountFacts(ctx context.Context) ([]store.Account, error)
	ListScheduledMeetings(ctx context.Context) ([]store.ScheduledMeeting, error)
	ListCurrentSubscriptions(ctx context.Context) ([]store.Subscription, error)
}

// Subject kinds of a dry run.
const (
	KindAccount      = "account"
	KindSubscription = "subscription"
	KindMeeting      = "meeting"
)

// Subjects builds the dry run's subjects from the store: every account asked whether it
// may host, every current subscription whether it may renew (with its own plan, channel
// and billing country), and every scheduled meeting whether its account may host it.
// Facts are built with next's partners (the policy being tried).
func Subjects(ctx context.Context, src Source, next *policy.Policy) ([]policy.Subject, error) {
	accounts, err := src.ListAccountFacts(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy dry run: %w", err)
	}
	meetings, err := src.ListScheduledMeetings(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy dry run: %w", err)
	}
	subs, err := src.ListCurrentSubscriptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy dry run: %w", err)
	}
	byID := make(map[string]policy.Facts, len(accounts))
	byAccount := make(map[string]store.Account, len(accounts))
	subjects := make([]policy.Subject, 0, len(accounts)+len(subs)+len(meetings))
	for _, a := range accounts {
		f := account.PolicyFacts(next, a)
		byID[a.ID], byAccount[a.ID] = f, a
		subjects = append(subjects, policy.Subject{ID: a.ID, Kind: KindAccount, Region: a.Region, Question: policy.QHost, Facts: f})
	}
	for _, x := range subs {
		a, ok := byAccount[x.AccountID]
		if !ok {
			continue
		}
		a.Plan, a.Channel, a.BillingCountry = x.Plan, x.Channel, x.BillingCountry
		f := account.PolicyFacts(next, a)
		f.Online = f.Channel == "direct" // a direct subscription renews by itself, online
		subjects = append(subjects, policy.Subject{ID: x.ID, Kind: KindSubscription, Region: x.Region, Question: policy.QRenew, Facts: f})
	}
	for _, m := range meetings {
		f, ok := byID[m.AccountID]
		if !ok {
			continue // its account is gone: nothing to decide
		}
		subjects = append(subjects, policy.Subject{ID: m.ID, Kind: KindMeeting, Region: m.Region, Question: policy.QHost, Facts: f})
	}
	return subjects, nil
}

// Report is a dry run's result: counts per region and kind, and the ids of the subjects
// decided differently, per kind, with the decisions' codes and rules. It holds no personal
// data.
type Report struct {
	At      time.Time       `json:"at"`
	From    string          `json:"from_version"`
	To      string          `json:"to_version"`
	Counts  []Count         `json:"counts"`
	Changes []SubjectChange `json:"changes"`
	// Replay is the recent decision log decided again under the new policy.
	Replay Replay `json:"replay"`
}

// Count is policy.Count with JSON names.
type Count struct {
	Region     string `json:"region"`
	Kind       string `json:"kind"`
	Subjects   int    `json:"subjects"`
	Changed    int    `json:"changed"`
	NowRefused int    `json:"now_refused"`
	NowAllowed int    `json:"now_allowed"`
}

// SubjectChange is one subject decided differently, by id.
type SubjectChange struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Region  string `json:"region"`
	OldCode string `json:"old_code"`
	OldRule string `json:"old_rule,omitempty"`
	NewCode string `json:"new_code"`
	NewRule string `json:"new_rule,omitempty"`
	Allowed bool   `json:"allowed"`
}

// Replay says whether the decision log could be replayed, and what came out differently.
type Replay struct {
	Available bool   `json:"available"`
	Note      string `json:"note,omitempty"`
	Changed   int    `json:"changed"`
}

// noDecisionLog is said of the replay while the audit trail keeps decisions' outcomes but
// not the facts they were made from, which policy.Replay needs.
const noDecisionLog = "no decision log with facts is kept yet (the audit trail records outcomes, not the facts a replay needs)"

// DryRun decides every subject of src under old and next at the moment at, and reports
// what would change.
func DryRun(ctx context.Context, src Source, old, next *policy.Policy, at time.Time) (Report, error) {
	subjects, err := Subjects(ctx, src, next)
	if err != nil {
		return Report{}, err
	}
	d := policy.Diff(old, next, at, subjects)
	rep := Report{At: at, From: version(old), To: version(next), Counts: make([]Count, 0, len(d.Counts)),
		Changes: make([]SubjectChange, 0, len(d.Changes)), Replay: Replay{Note: noDecisionLog}}
	for _, c := range d.Counts {
		rep.Counts = append(rep.Counts, Count(c))
	}
	for _, c := range d.Changes {
		rep.Changes = append(rep.Changes, SubjectChange{ID: c.Subject.ID, Kind: c.Subject.Kind, Region: c.Subject.Region,
			OldCode: c.Old.Code, OldRule: c.Old.RuleID, NewCode: c.New.Code, NewRule: c.New.RuleID, Allowed: c.New.Allowed})
	}
	return rep, nil
}

func version(p *policy.Policy) string {
	if p == nil {
		return ""
	}
	return p.Version
}

// RuleChanges names the rules a new policy adds, removes and changes, by id.
type RuleChanges struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
}

// Summary says the changes in a line, for the audit trail.
func (c RuleChanges) Summary() string {
	return fmt.Sprintf("rules added %v removed %v changed %v", c.Added, c.Removed, c.Changed)
}

// CompareRules compares two policies' rules by id (nil is a policy of no rules).
func CompareRules(old, next *policy.Policy) RuleChanges {
	c := RuleChanges{Added: []string{}, Removed: []string{}, Changed: []string{}}
	byID := map[string]*policy.Rule{}
	if old != nil {
		for _, r := range old.Rules {
			byID[r.ID] = r
		}
	}
	seen := map[string]bool{}
	if next != nil {
		for _, r := range next.Rules {
			seen[r.ID] = true
			o, ok := byID[r.ID]
			switch {
			case !ok:
				c.Added = append(c.Added, r.ID)
			case !sameRule(o, r):
				c.Changed = append(c.Changed, r.ID)
			}
		}
	}
	if old != nil {
		for _, r := range old.Rules {
			if !seen[r.ID] {
				c.Removed = append(c.Removed, r.ID)
			}
		}
	}
	return c
}

func sameRule(a, b *policy.Rule) bool {
	return a.Jurisdiction == b.Jurisdiction && a.Question == b.Question && a.Effect == b.Effect && a.Requires == b.Requires &&
		a.EffectiveFrom.Equal(b.EffectiveFrom) && a.EffectiveUntil.Equal(b.EffectiveUntil) && a.ReasonCode == b.ReasonCode &&
		a.Message == b.Message && a.Condition == b.Condition &&
		slices.EqualFunc(a.Alternatives, b.Alternatives, func(x, y policy.Alternative) bool { return x.Kind == y.Kind && x.Text == y.Text })
}
