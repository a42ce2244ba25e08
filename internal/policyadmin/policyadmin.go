// Package policyadmin is the operator's side of the jurisdiction policy: the running
// document, validating and staging a new one, activating it (audited, with the rules it
// adds, removes and changes), and the dry run of what a policy would change over this
// region's accounts and scheduled meetings before it takes effect.
package policyadmin

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

// ErrNothingStaged is Activate's refusal when no version is staged.
var ErrNothingStaged = errors.New("policyadmin: no policy is staged")

// Document is a policy version with its source.
type Document struct {
	Name   string // the file or the request it came from
	Source []byte
	Policy *policy.Policy // nil for the empty policy (no rules)
	// StagedBy and StagedAt say who staged it and when; zero for the running one from the
	// configuration.
	StagedBy string
	StagedAt time.Time
}

// Options configure a Service.
type Options struct {
	Now   func() time.Time // time.Now if nil
	Audit *auditlog.Log    // required
}

// Service keeps the running policy's document and the staged one. It is safe for
// concurrent use.
type Service struct {
	holder *policy.Holder
	src    Source
	audit  *auditlog.Log
	now    func() time.Time

	mu      sync.Mutex
	running Document
	staged  *Document
}

// New returns a Service over the holder, whose running policy came from running (its
// name and source, empty for none).
func New(h *policy.Holder, running Document, src Source, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	running.Policy = h.Policy()
	return &Service{holder: h, src: src, audit: o.Audit, now: o.Now, running: running}
}

// Running returns the running document.
func (s *Service) Running() Document {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Staged returns the staged document, if any.
func (s *Service) Staged() (Document, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staged == nil {
		return Document{}, false
	}
	return *s.staged, true
}

// Validate loads a document without keeping it: nil, or the joined *policy.LoadError of
// every problem.
func Validate(name string, data []byte) (*policy.Policy, error) { return policy.Load(name, data) }

// Stage validates a document and keeps it as the staged version, replacing any staged
// before. A document that does not load changes nothing (neither the running nor the
// staged version) and is audited as refused.
func (s *Service) Stage(ctx context.Context, actor, name string, data []byte) (Document, error) {
	p, err := policy.Load(name, data)
	if err != nil {
		s.audit.Write(ctx, store.AuditEntry{Actor: actor, Action: "policy.stage", Subject: name, Outcome: "invalid_policy"})
		return Document{}, err
	}
	d := Document{Name: name, Source: append([]byte(nil), data...), Policy: p, StagedBy: actor, StagedAt: s.now()}
	s.mu.Lock()
	s.staged = &d
	s.mu.Unlock()
	s.audit.Write(ctx, store.AuditEntry{Actor: actor, Action: "policy.stage", Subject: p.Version, Outcome: "ok"})
	return d, nil
}

// Activate makes the staged version the running one and audits who did it, when, and the
// rules it added, removed and changed.
func (s *Service) Activate(ctx context.Context, actor string) (Document, RuleChanges, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staged == nil {
		return Document{}, RuleChanges{}, ErrNothingStaged
	}
	d := *s.staged
	prev, err := s.holder.Load(d.Name, d.Source)
	if err != nil { // it loaded when staged; a Load that refuses it now keeps the running one
		return Document{}, RuleChanges{}, err
	}
	d.Policy = s.holder.Policy()
	changes := CompareRules(prev, d.Policy)
	s.running, s.staged = d, nil
	s.audit.Write(ctx, store.AuditEntry{At: s.now(), Actor: actor, Action: "policy.activate", Subject: d.Policy.Version, Outcome: "ok",
		Detail: "from " + version(prev) + " to " + d.Policy.Version + ": " + changes.Summary()})
	return d, changes, nil
}

// DryRun reports what next would change against the running policy at the moment at (now
// by the Service's clock if zero).
func (s *Service) DryRun(ctx context.Context, next *policy.Policy, at time.Time) (Report, error) {
	if at.IsZero() {
		at = s.now()
	}
	return DryRun(ctx, s.src, s.holder.Policy(), next, at)
}
