// Package auditlog writes the audit trail. Decisions are written one by one, as they are
// made. Refusals of unauthenticated traffic (wrong passwords and passcodes, unknown ids,
// rate-limited attempts) are summed instead: the first of a kind in a window is written at
// once, its repeats are counted in memory and written as one entry with their count when
// the window closes (or on Flush, at shutdown). The trail still says that every refusal
// happened, and a flood of guesses writes a bounded number of rows: at most two per key
// and window for MaxKeys keys, and past that one per action and outcome.
package auditlog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/meridian-video/meridian/internal/ratelimit"
	"github.com/meridian-video/meridian/internal/store"
)

// Appender is where entries go (*store.Store is one).
type Appender interface {
	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
}

// Defaults of Options.
const (
	DefaultWindow  = time.Minute
	DefaultMaxKeys = 500
)

// Options tune a Log; the zero value is usable.
type Options struct {
	Now func() time.Time // time.Now if nil
	Log *slog.Logger     // slog.Default() if nil
	// Window is how long repeats of a refusal are counted before their entry is written;
	// DefaultWindow if zero.
	Window time.Duration
	// MaxKeys bounds the refusal keys counted in one window (and so the rows a window of
	// refusals writes, and the memory counting takes); DefaultMaxKeys if zero. Past it,
	// refusals are only counted, per action and outcome.
	MaxKeys int
}

// Log is an audit trail over an Appender. It is safe for concurrent use.
type Log struct {
	st      Appender
	now     func() time.Time
	log     *slog.Logger
	window  time.Duration
	maxKeys int

	mu    sync.Mutex
	start time.Time // when the window being counted began; zero when none is
	keys  map[key]*tally
	// overflow counts, per action and outcome, the refusals of keys past maxKeys.
	overflow map[key]*tally
}

// key is what makes two refusals the same: who (the actor and, for the anonymous, the
// client address by ratelimit.IPKey), what and of what, and how it ended.
type key struct {
	actor, addr, action, subject, outcome string
}

// tally is the repeats of one key in a window: the first repeat as an entry, how many, and
// when the last was.
type tally struct {
	entry store.AuditEntry
	n     int64
	last  time.Time
}

// New returns a Log that appends to st.
func New(st Appender, o Options) *Log {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	return &Log{st: st, now: o.Now, log: o.Log, window: o.Window, maxKeys: o.MaxKeys,
		keys: map[key]*tally{}, overflow: map[key]*tally{}}
}

// Write appends a decision at once. A failure to append is logged, not returned: the
// decision has been made either way. It outlives a cancelled request.
func (l *Log) Write(ctx context.Context, e store.AuditEntry) {
	if e.At.IsZero() {
		e.At = l.now()
	}
	l.append(ctx, e)
}

// Record is the one rule of which decisions are summed: a refusal (any outcome but "ok")
// of an anonymous request from addr goes to Refusal, anything else to Write.
func (l *Log) Record(ctx context.Context, addr string, e store.AuditEntry) {
	if e.Actor == "anonymous" && e.Outcome != "ok" {
		l.Refusal(ctx, addr, e)
		return
	}
	l.Write(ctx, e)
}

// Refusal records a refusal of unauthenticated traffic from the client address addr: the
// first of its key in a window is written at once, the others are counted (see the
// package comment).
func (l *Log) Refusal(ctx context.Context, addr string, e store.AuditEntry) {
	now := l.now()
	if e.At.IsZero() {
		e.At = now
	}
	k := key{actor: e.Actor, addr: ratelimit.IPKey(addr), action: e.Action, subject: e.Subject, outcome: e.Outcome}
	l.mu.Lock()
	var due []store.AuditEntry
	if !l.start.IsZero() && !now.Before(l.start.Add(l.window)) {
		due = l.takeLocked()
	}
	if l.start.IsZero() {
		l.start = now
	}
	first := false
	if t := l.keys[k]; t != nil {
		t.count(e)
	} else if len(l.keys) < l.maxKeys {
		l.keys[k] = &tally{}
		first = true
	} else {
		ok := key{action: e.Action, outcome: e.Outcome}
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

// Tick writes the counted repeats once their window has closed. The server calls it every
// few seconds, so that a flood that stops is written down without waiting for the next
// refusal.
func (l *Log) Tick(ctx context.Context) {
	l.mu.Lock()
	var due []store.AuditEntry
	if !l.start.IsZero() && !l.now().Before(l.start.Add(l.window)) {
		due = l.takeLocked()
	}
	l.mu.Unlock()
	for _, d := range due {
		l.append(ctx, d)
	}
}

// Flush writes every repeat counted so far, closing the window early: at shutdown, so
// that nothing counted is lost.
func (l *Log) Flush(ctx context.Context) {
	l.mu.Lock()
	due := l.takeLocked()
	l.mu.Unlock()
	for _, d := range due {
		l.append(ctx, d)
	}
}

func (t *tally) count(e store.AuditEntry) {
	if t.n == 0 {
		t.entry = e
	}
	t.n++
	t.last = e.At
}

// takeLocked ends the window and returns the entries that sum up its repeats. Called with
// l.mu held.
func (l *Log) takeLocked() []store.AuditEntry {
	var out []store.AuditEntry
	for _, t := range l.keys {
		if t.n == 0 {
			continue
		}
		e := t.entry
		e.ID, e.Count = "", t.n
		e.Detail = fmt.Sprintf("repeated %d times until %s; %s", t.n, t.last.UTC().Format(time.RFC3339), e.Detail)
		out = append(out, e)
	}
	for k, t := range l.overflow {
		out = append(out, store.AuditEntry{
			At: t.entry.At, Actor: "anonymous", Action: k.action, Outcome: k.outcome, Count: t.n,
			Detail: fmt.Sprintf("%d refusals until %s past the ceiling of %d sources a window; the first by %s of %q: %s",
				t.n, t.last.UTC().Format(time.RFC3339), l.maxKeys, t.entry.Actor, t.entry.Subject, t.entry.Detail),
		})
	}
	clear(l.keys)
	clear(l.overflow)
	l.start = time.Time{}
	return out
}

func (l *Log) append(ctx context.Context, e store.AuditEntry) {
	if _, err := l.st.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		l.log.ErrorContext(ctx, "audit entry not written", "action", e.Action, "outcome", e.Outcome, "count", e.Count, "err", err)
	}
}
