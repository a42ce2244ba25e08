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

// Report is a dry run's result over every region of the deployment: counts per region
// and kind, the ids of the subjects decided differently with the decisions' codes and
// rules, the replay of each region's recent decision log, and which regions answered. It
// holds no personal data.
type Report struct {
	At      time.Time       `json:"at"`
	From    string          `json:"from_version"` // this node's running version
	To      string          `json:"to_version"`
	Counts  []Count         `json:"counts"`  // every answering region's, by region then kind
	Changes []SubjectChange `json:"changes"` // every answering region's, by region
	// Replay is the recent decision log of every answering region decided again under the
	// new policy.
	Replay Replay `json:"replay"`
	// Regions says, for every region of the deployment, whether it answered and its part.
	Regions []RegionReport `json:"regions"`
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

// Replay is a decision log decided again under the new policy. Counts are of decisions (an
// entry summing repeats counts each).
type Replay struct {
	// Available is false when there is no decision log to replay; Note says why.
	Available bool      `json:"available"`
	Note      string    `json:"note,omitempty"`
	Since     time.Time `json:"since"` // the replay window's start
	Decisions int64     `json:"decisions"`
	// Skipped are decisions whose entry cannot be replayed (summed over many facts).
	Skipped    int64          `json:"skipped"`
	Changed    int64          `json:"changed"`
	NowRefused int64          `json:"now_refused"`
	NowAllowed int64          `json:"now_allowed"`
	Changes    []ReplayChange `json:"changes"`
	// Truncated says Changes lists the first MaxChanges of a region's changes only.
	Truncated bool `json:"truncated,omitempty"`
}

// ReplayChange is a logged decision that would come out differently, by ids.
type ReplayChange struct {
	ID       string    `json:"id"` // the decision log entry's
	Region   string    `json:"region"`
	At       time.Time `json:"at"`
	Question string    `json:"question"`
	Subject  string    `json:"subject,omitempty"` // the opaque account or meeting id
	Count    int64     `json:"count"`
	OldCode  string    `json:"old_code"`
	OldRule  string    `json:"old_rule,omitempty"`
	NewCode  string    `json:"new_code"`
	NewRule  string    `json:"new_rule,omitempty"`
	Allowed  bool      `json:"allowed"`
}

// RegionReport is one region's part of a dry run. A region that did not answer (no node of
// it within the timeout, or an error) has Answered false and Error saying why: its subjects
// are not in the report's counts, and nothing about them is assumed.
type RegionReport struct {
	Region   string `json:"region"`
	Answered bool   `json:"answered"`
	Error    string `json:"error,omitempty"`
	// From is the version the region runs.
	From     string `json:"from_version"`
	Subjects int    `json:"subjects"`
	Changed  int    `json:"changed"`
	// Truncated says the report lists the first MaxChanges of its changed subjects only.
	Truncated bool   `json:"truncated,omitempty"`
	Replay    Replay `json:"replay"`
}

// RegionResult is what a region computes over its own store and decision log: ids, codes
// and counts, which is all that leaves it.
type RegionResult struct {
	Region           string          `json:"region"`
	From             string          `json:"from_version"`
	Counts           []Count         `json:"counts"`
	Changes          []SubjectChange `json:"changes"`
	ChangesTruncated bool            `json:"changes_truncated,omitempty"`
	Replay           Replay          `json:"replay"`
}

// MaxChanges bounds the changed subjects, and the changed decisions, a region lists (its
// counts are complete): a region's answer crosses the bus in one message.
const MaxChanges = 1000

// Replay defaults: the decisions of the last week, at most DefaultReplayRows entries.
const (
	DefaultReplayWindow = 7 * 24 * time.Hour
	DefaultReplayRows   = 10_000
)

// Decisions is a region's decision log (*decisionlog.Log is one).
type Decisions interface {
	// Recent returns up to limit entries made since since, oldest first, and how many
	// decisions could not be replayed.
	Recent(ctx context.Context, since time.Time, limit int) ([]policy.LoggedDecision, int64, error)
	List(ctx context.Context, q store.DecisionQuery) ([]store.PolicyDecision, error)
}

// noDecisionLog is said of the replay when no decision log is kept (a tool without one).
const noDecisionLog = "no decision log is kept here"

// Local is one region's side of a dry run: its store and its decision log.
type Local struct {
	Region    string
	Source    Source
	Decisions Decisions // nil: no replay, and the report says so
	// ReplayWindow and ReplayRows bound the replay; the defaults if zero.
	ReplayWindow time.Duration
	ReplayRows   int
}

// Run decides every subject of the region under old and next at the moment at, and replays
// the decisions made in the replay window before now under next.
func (l Local) Run(ctx context.Context, old, next *policy.Policy, at, now time.Time) (RegionResult, error) {
	subjects, err := Subjects(ctx, l.Source, next)
	if err != nil {
		return RegionResult{}, err
	}
	d := policy.Diff(old, next, at, subjects)
	res := RegionResult{Region: l.Region, From: version(old), Counts: make([]Count, 0, len(d.Counts)),
		Changes: make([]SubjectChange, 0, min(len(d.Changes), MaxChanges))}
	for _, c := range d.Counts {
		res.Counts = append(res.Counts, Count(c))
	}
	for _, c := range d.Changes {
		if len(res.Changes) == MaxChanges {
			res.ChangesTruncated = true
			break
		}
		res.Changes = append(res.Changes, SubjectChange{ID: c.Subject.ID, Kind: c.Subject.Kind, Region: c.Subject.Region,
			OldCode: c.Old.Code, OldRule: c.Old.RuleID, NewCode: c.New.Code, NewRule: c.New.RuleID, Allowed: c.New.Allowed})
	}
	if res.Replay, err = l.replay(ctx, next, now); err != nil {
		return RegionResult{}, err
	}
	return res, nil
}

func (l Local) replay(ctx context.Context, next *policy.Policy, now time.Time) (Replay, error) {
	if l.Decisions == nil {
		return Replay{Note: noDecisionLog, Changes: []ReplayChange{}}, nil
	}
	window, rows := l.ReplayWindow, l.ReplayRows
	if window <= 0 {
		window = DefaultReplayWindow
	}
	if rows <= 0 {
		rows = DefaultReplayRows
	}
	since := now.Add(-window)
	log, skipped, err := l.Decisions.Recent(ctx, since, rows)
	if err != nil {
		return Replay{}, fmt.Errorf("policy dry run: %w", err)
	}
	r := Replay{Available: true, Since: since, Skipped: skipped, Changes: []ReplayChange{}}
	for _, d := range log {
		r.Decisions += max(d.Count, 1)
	}
	if len(log) == rows {
		r.Note = fmt.Sprintf("the %d most recent entries of the window", rows)
	}
	for _, c := range policy.Replay(next, log) {
		n := max(c.Logged.Count, 1)
		r.Changed += n
		switch {
		case c.Logged.Allowed && !c.New.Allowed:
			r.NowRefused += n
		case !c.Logged.Allowed && c.New.Allowed:
			r.NowAllowed += n
		}
		if len(r.Changes) == MaxChanges {
			r.Truncated = true
			continue
		}
		r.Changes = append(r.Changes, ReplayChange{ID: c.Logged.ID, Region: l.Region, At: c.Logged.At, Question: c.Logged.Question.String(),
			Subject: c.Logged.Subject, Count: n, OldCode: c.Logged.Code, OldRule: c.Logged.RuleID, NewCode: c.New.Code,
			NewRule: c.New.RuleID, Allowed: c.New.Allowed})
	}
	return r, nil
}

// DryRun is a dry run of one region: what next would change against old over the local
// store at the moment at, with the replay of its decision log before now.
func DryRun(ctx context.Context, l Local, old, next *policy.Policy, at, now time.Time) (Report, error) {
	res, err := l.Run(ctx, old, next, at, now)
	if err != nil {
		return Report{}, err
	}
	rep := newReport(old, next, at)
	rep.add(res)
	return rep, nil
}

func newReport(old, next *policy.Policy, at time.Time) Report {
	return Report{At: at, From: version(old), To: version(next), Counts: []Count{}, Changes: []SubjectChange{},
		Replay: Replay{Changes: []ReplayChange{}}, Regions: []RegionReport{}}
}

// add merges one region's answer into the report.
func (r *Report) add(res RegionResult) {
	rr := RegionReport{Region: res.Region, Answered: true, From: res.From, Truncated: res.ChangesTruncated, Replay: res.Replay}
	for _, c := range res.Counts {
		rr.Subjects += c.Subjects
		rr.Changed += c.Changed
	}
	r.Counts = append(r.Counts, res.Counts...)
	r.Changes = append(r.Changes, res.Changes...)
	rr.Replay.Changes = []ReplayChange{} // listed once, in the report's replay
	r.Regions = append(r.Regions, rr)
	x, y := &r.Replay, res.Replay
	if y.Available {
		if !x.Available || y.Since.Before(x.Since) {
			x.Since = y.Since
		}
		x.Available = true
	}
	if x.Note == "" {
		x.Note = y.Note
	}
	x.Decisions += y.Decisions
	x.Skipped += y.Skipped
	x.Changed += y.Changed
	x.NowRefused += y.NowRefused
	x.NowAllowed += y.NowAllowed
	x.Truncated = x.Truncated || y.Truncated
	x.Changes = append(x.Changes, y.Changes...)
}

// unanswered records a region that did not answer.
func (r *Report) unanswered(region string, err error) {
	r.Regions = append(r.Regions, RegionReport{Region: region, Error: err.Error()})
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
