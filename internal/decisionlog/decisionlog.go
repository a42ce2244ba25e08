// Package decisionlog records the jurisdiction policy's decisions with the facts they were
// made from, in the home region's store, so that a dry run can replay the recent ones under
// a new version (policy.Replay) and operators can read why the product decided what it did.
//
// An entry holds the question, the subject (an opaque account or meeting id, none for a
// sign-up), the facts (policy.Facts: countries, plan, type, channel, never a name or an
// address), the outcome with its rule and jurisdiction, the policy version and the time.
// The decision functions stay pure: the product's call sites hand each decision to a Log.
//
// Entries are written off the request's path: Record queues them (a bounded queue) and one
// writer appends them in batches, one transaction each, so that a join pays no database
// write for its decisions. Reading the log (List, Recent) first waits for what was queued
// before, so it sees every decision recorded until then. A queue full under overload drops
// entries, counted and logged as an error; Close writes what is queued and stops the writer.
//
// The log is bounded three ways. Entries older than Retention, and past MaxRows, are
// pruned on Tick. Decisions about unauthenticated traffic (sign-ups, guests) are summed as
// the audit trail sums refusals (package auditlog): the first of a kind in a window is
// written at once, its repeats are counted and written as one entry with their count when
// the window closes; past MaxKeys kinds a window, they are counted per question and
// outcome only, in an entry without facts that a replay skips and counts as such.
package decisionlog

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

// Store is where entries live (*store.Store is one).
type Store interface {
	AppendPolicyDecisions(ctx context.Context, ds []store.PolicyDecision) error
	ListPolicyDecisions(ctx context.Context, q store.DecisionQuery) ([]store.PolicyDecision, error)
	PrunePolicyDecisions(ctx context.Context, before time.Time, keep int) (int64, error)
}

// Defaults of Options.
const (
	DefaultRetention  = 30 * 24 * time.Hour
	DefaultMaxRows    = 100_000
	DefaultWindow     = time.Minute
	DefaultMaxKeys    = 500
	DefaultPruneEvery = time.Minute
	// queueLen bounds the entries waiting for the writer; maxBatch those it writes in
	// one transaction.
	queueLen = 4096
	maxBatch = 256
)

// Options tune a Log; the zero value is usable.
type Options struct {
	Now func() time.Time // time.Now if nil
	Log *slog.Logger     // slog.Default() if nil
	// Retention is how long entries are kept; MaxRows how many at most.
	Retention time.Duration
	MaxRows   int
	// Window and MaxKeys sum anonymous repeats, as auditlog.Options'.
	Window  time.Duration
	MaxKeys int
	// PruneEvery is how often Tick prunes.
	PruneEvery time.Duration
}

// Log records decisions. It is safe for concurrent use.
type Log struct {
	st Store
	o  Options

	mu        sync.Mutex
	start     time.Time // when the window being counted began; zero when none is
	keys      map[key]*tally
	overflow  map[key]*tally
	lastPrune time.Time

	// The writer: q carries entries (and barriers) to it. qmu is held to send on q, and
	// taken for writing by Close, after which entries are written at once.
	q       chan item
	qmu     sync.RWMutex
	closed  bool
	stop    chan struct{}
	stopped chan struct{}
	dropped int64 // under mu: entries the full queue refused
}

// item is an entry for the writer, or a barrier it closes once everything queued before
// is written.
type item struct {
	e       store.PolicyDecision
	barrier chan struct{}
}

// key is what makes two anonymous decisions the same.
type key struct {
	question, subject, facts, code, rule, version string
}

type tally struct {
	entry store.PolicyDecision
	n     int64
}

// New returns a Log over st.
func New(st Store, o Options) *Log {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = DefaultPruneEvery
	}
	l := &Log{st: st, o: o, keys: map[key]*tally{}, overflow: map[key]*tally{},
		q: make(chan item, queueLen), stop: make(chan struct{}), stopped: make(chan struct{})}
	go l.write()
	return l
}

// write appends queued entries in batches until Close.
func (l *Log) write() {
	defer close(l.stopped)
	for {
		select {
		case it := <-l.q:
			l.batch(it)
		case <-l.stop:
			for {
				select {
				case it := <-l.q:
					l.batch(it)
				default:
					return
				}
			}
		}
	}
}

// batch writes it and whatever else is queued, up to maxBatch entries, then releases the
// barriers among them.
func (l *Log) batch(it item) {
	var es []store.PolicyDecision
	var barriers []chan struct{}
	take := func(it item) {
		if it.barrier != nil {
			barriers = append(barriers, it.barrier)
		} else {
			es = append(es, it.e)
		}
	}
	take(it)
fill:
	for len(es) < maxBatch {
		select {
		case it := <-l.q:
			take(it)
		default:
			break fill
		}
	}
	l.appendNow(context.Background(), es)
	for _, b := range barriers {
		close(b)
	}
}

// sync waits until every entry queued before it is written, or ctx ends.
func (l *Log) sync(ctx context.Context) error {
	b := make(chan struct{})
	l.qmu.RLock()
	if l.closed {
		l.qmu.RUnlock()
		return nil
	}
	select {
	case l.q <- item{barrier: b}:
	case <-ctx.Done():
		l.qmu.RUnlock()
		return ctx.Err()
	}
	l.qmu.RUnlock()
	select {
	case <-b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes the counted repeats and everything queued, and stops the writer; entries
// recorded after it are written at once.
func (l *Log) Close(ctx context.Context) {
	l.Flush(ctx)
	l.qmu.Lock()
	if l.closed {
		l.qmu.Unlock()
		return
	}
	l.closed = true
	l.qmu.Unlock()
	close(l.stop)
	<-l.stopped
}

// Made is one decision as the product made it.
type Made struct {
	Question policy.Question
	// Subject is the opaque id of the account or meeting decided about, "" when there is
	// none yet (a sign-up). Never a name or an address.
	Subject  string
	Facts    policy.Facts
	Decision policy.Decision
	At       time.Time // the Log's now if zero
	// Anonymous marks a decision about unauthenticated traffic: its repeats are summed.
	Anonymous bool
}

// Record writes a decision: at once, or summed with its repeats when anonymous. A failure
// to write is logged, not returned: the decision has been made either way. It outlives a
// cancelled request.
func (l *Log) Record(ctx context.Context, m Made) {
	if l == nil {
		return
	}
	now := l.o.Now()
	if m.At.IsZero() {
		m.At = now
	}
	e := store.PolicyDecision{At: m.At, Question: m.Question.String(), Subject: m.Subject, Facts: encodeFacts(m.Facts),
		Allowed: m.Decision.Allowed, Code: m.Decision.Code, RuleID: m.Decision.RuleID, Jurisdiction: m.Decision.Jurisdiction,
		PolicyVersion: m.Decision.PolicyVersion}
	if !m.Anonymous {
		l.append(ctx, e)
		return
	}
	k := key{question: e.Question, subject: e.Subject, facts: e.Facts, code: e.Code, rule: e.RuleID, version: e.PolicyVersion}
	l.mu.Lock()
	var due []store.PolicyDecision
	if !l.start.IsZero() && !now.Before(l.start.Add(l.o.Window)) {
		due = l.takeLocked()
	}
	if l.start.IsZero() {
		l.start = now
	}
	first := false
	if t := l.keys[k]; t != nil {
		t.count(e)
	} else if len(l.keys) < l.o.MaxKeys {
		l.keys[k] = &tally{}
		first = true
	} else {
		ok := key{question: e.Question, code: e.Code, rule: e.RuleID, version: e.PolicyVersion}
		t := l.overflow[ok]
		if t == nil {
			t = &tally{}
			l.overflow[ok] = t
		}
		t.count(e)
	}
	l.mu.Unlock()
	for _, d := range due {
		l.append(ctx, d)
	}
	if first {
		l.append(ctx, e)
	}
}

func (t *tally) count(e store.PolicyDecision) {
	if t.n == 0 {
		t.entry = e
	}
	t.n++
}

// takeLocked ends the window and returns the entries summing its repeats.
func (l *Log) takeLocked() []store.PolicyDecision {
	var out []store.PolicyDecision
	for _, t := range l.keys {
		if t.n > 0 {
			e := t.entry
			e.Count = t.n
			out = append(out, e)
		}
	}
	for _, t := range l.overflow {
		e := t.entry
		e.Subject, e.Facts, e.Count = "", "", t.n // many facts: not replayable
		out = append(out, e)
	}
	clear(l.keys)
	clear(l.overflow)
	l.start = time.Time{}
	return out
}

// Tick writes the counted repeats once their window has closed, and prunes entries past
// the retention window and the row ceiling every PruneEvery. The server calls it every
// few seconds.
func (l *Log) Tick(ctx context.Context) {
	now := l.o.Now()
	l.mu.Lock()
	var due []store.PolicyDecision
	if !l.start.IsZero() && !now.Before(l.start.Add(l.o.Window)) {
		due = l.takeLocked()
	}
	prune := now.Sub(l.lastPrune) >= l.o.PruneEvery
	if prune {
		l.lastPrune = now
	}
	l.mu.Unlock()
	for _, d := range due {
		l.append(ctx, d)
	}
	if prune {
		_ = l.sync(ctx) // what was queued counts towards the ceiling
		if _, err := l.st.PrunePolicyDecisions(ctx, now.Add(-l.o.Retention), l.o.MaxRows); err != nil {
			l.o.Log.WarnContext(ctx, "pruning the decision log", "err", err)
		}
	}
}

// Flush writes every repeat counted so far, and waits for what is queued.
func (l *Log) Flush(ctx context.Context) {
	l.mu.Lock()
	due := l.takeLocked()
	l.mu.Unlock()
	for _, d := range due {
		l.append(ctx, d)
	}
	_ = l.sync(ctx)
}

// append queues an entry for the writer (or writes it at once after Close). A full queue
// drops it: the decision has been made either way, and the drop is logged.
func (l *Log) append(ctx context.Context, e store.PolicyDecision) {
	l.qmu.RLock()
	if l.closed {
		l.qmu.RUnlock()
		l.appendNow(ctx, []store.PolicyDecision{e})
		return
	}
	select {
	case l.q <- item{e: e}:
		l.qmu.RUnlock()
		return
	default:
	}
	l.qmu.RUnlock()
	l.mu.Lock()
	l.dropped++
	n := l.dropped
	l.mu.Unlock()
	l.o.Log.ErrorContext(ctx, "policy decision not logged: the decision log's queue is full", "question", e.Question, "code", e.Code,
		"dropped_so_far", n)
}

func (l *Log) appendNow(ctx context.Context, es []store.PolicyDecision) {
	if len(es) == 0 {
		return
	}
	if err := l.st.AppendPolicyDecisions(context.WithoutCancel(ctx), es); err != nil {
		l.o.Log.ErrorContext(ctx, "policy decisions not logged", "entries", len(es), "err", err)
	}
}

// List returns the entries q selects, newest first, every decision recorded before
// included.
func (l *Log) List(ctx context.Context, q store.DecisionQuery) ([]store.PolicyDecision, error) {
	if err := l.sync(ctx); err != nil {
		return nil, fmt.Errorf("decision log: %w", err)
	}
	ds, err := l.st.ListPolicyDecisions(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("decision log: %w", err)
	}
	return ds, nil
}

// Recent returns up to limit of the decisions made since since, oldest first, for
// policy.Replay, and how many decisions were left out because their entry cannot be
// replayed (summed over many facts, or facts this build cannot read).
func (l *Log) Recent(ctx context.Context, since time.Time, limit int) (log []policy.LoggedDecision, skipped int64, err error) {
	ds, err := l.List(ctx, store.DecisionQuery{Since: since, Limit: limit})
	if err != nil {
		return nil, 0, err
	}
	slices.Reverse(ds)
	for _, d := range ds {
		q, okQ := policy.ParseQuestion(d.Question)
		f, okF := decodeFacts(d.Facts)
		if !okQ || !okF {
			skipped += d.Count
			continue
		}
		log = append(log, policy.LoggedDecision{ID: d.ID, At: d.At, Question: q, Subject: d.Subject, Facts: f,
			Allowed: d.Allowed, Code: d.Code, RuleID: d.RuleID, Count: d.Count})
	}
	return log, skipped, nil
}

// factsJSON is policy.Facts with the names of its CEL variables.
type factsJSON struct {
	AccountType        string `json:"account_type,omitempty"`
	Country            string `json:"country,omitempty"`
	BillingCountry     string `json:"billing_country,omitempty"`
	Plan               string `json:"plan,omitempty"`
	Channel            string `json:"channel,omitempty"`
	Partner            string `json:"partner,omitempty"`
	Online             bool   `json:"online,omitempty"`
	ParticipantCountry string `json:"participant_country,omitempty"`
	Region             string `json:"region,omitempty"`
	HomeRegion         string `json:"home_region,omitempty"`
	OptedIn            bool   `json:"opted_in,omitempty"`
}

func encodeFacts(f policy.Facts) string {
	b, err := json.Marshal(factsJSON(f))
	if err != nil { // strings and booleans always marshal
		return ""
	}
	return string(b)
}

func decodeFacts(s string) (policy.Facts, bool) {
	if s == "" {
		return policy.Facts{}, false
	}
	var f factsJSON
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return policy.Facts{}, false
	}
	return policy.Facts(f), true
}
