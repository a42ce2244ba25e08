// Package policyadmin is the operator's side of the jurisdiction policy: the running
// document, validating and staging a new one, activating it (audited, with the rules it
// adds, removes and changes, and kept in the region's store so that a restart runs it),
// the dry run of what a policy would change before it takes effect (over every region's
// accounts, subscriptions and scheduled meetings, each computed in its region, and the
// replay of each region's recent decision log), and the decision log's entries.
package policyadmin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// ErrNothingStaged is Activate's refusal when no version is staged.
var ErrNothingStaged = errors.New("policyadmin: no policy is staged")

// Where a running version came from (Document.Origin).
const (
	OriginNone      = "none"      // no policy_file and nothing activated: no rules
	OriginFile      = "file"      // the configuration's policy_file
	OriginActivated = "activated" // the last version an operator activated, from the region's store
)

// Document is a policy version with its source.
type Document struct {
	Name   string // the file or the request it came from
	Source []byte
	Policy *policy.Policy // nil for the empty policy (no rules)
	// StagedBy and StagedAt say who staged it and when; zero for the running one from the
	// configuration.
	StagedBy string
	StagedAt time.Time
	// ActivatedBy and ActivatedAt say who activated it and when; zero for one from the
	// configuration.
	ActivatedBy string
	ActivatedAt time.Time
	// Origin says where a running version came from: OriginNone, OriginFile or
	// OriginActivated.
	Origin string
}

// Activations is where activated versions are kept across restarts (*store.Store is one,
// the region's store).
type Activations interface {
	AppendPolicyActivation(ctx context.Context, a store.PolicyActivation) (store.PolicyActivation, error)
	LastPolicyActivation(ctx context.Context) (store.PolicyActivation, error)
}

// Announcer announces an activation to every other node of the deployment.
type Announcer interface {
	AnnounceActivation(ctx context.Context, a store.PolicyActivation) error
}

// Regions asks a node of another region for its part of a dry run, computed over that
// region's store (package policyregions, over the bus). The document is the policy to try.
type Regions interface {
	DryRun(ctx context.Context, region string, document []byte, at time.Time) (RegionResult, error)
}

// Options configure a Service.
type Options struct {
	Now   func() time.Time // time.Now if nil
	Audit *auditlog.Log    // required
	// Region is this node's region; Regions every region of the deployment (Region alone
	// if empty). The dry run computes this region's part here and asks Remote for the
	// others'.
	Region  string
	Regions []string
	Remote  Regions
	// Decisions is this region's decision log, replayed by the dry run; nil replays
	// nothing (the report says so).
	Decisions Decisions
	// Activations keeps activated versions for the restart; nil keeps them in memory only.
	Activations Activations
	// Announcer tells every other node of an activation made here (they run it through
	// ApplyActivation); nil tells no one (a node on its own).
	Announcer Announcer
	// ReplayWindow and ReplayRows bound the replay (DefaultReplayWindow and
	// DefaultReplayRows if zero).
	ReplayWindow time.Duration
	ReplayRows   int
}

// Service keeps the running policy's document and the staged one. It is safe for
// concurrent use.
type Service struct {
	holder *policy.Holder
	src    Source
	audit  *auditlog.Log
	now    func() time.Time
	o      Options

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
	if o.Region == "" {
		o.Region = topology.DefaultRegion
	}
	if !slices.Contains(o.Regions, o.Region) {
		o.Regions = append(slices.Clone(o.Regions), o.Region)
	}
	running.Policy = h.Policy()
	if running.Origin == "" {
		running.Origin = OriginFile
		if running.Name == "" {
			running.Origin = OriginNone
		}
	}
	return &Service{holder: h, src: src, audit: o.Audit, now: o.Now, o: o, running: running}
}

// Startup picks the version a node starts with: the last one activated, from the region's
// store, unless preferFile (the configuration's policy_start: file) or nothing was
// activated; then file, the configuration's policy_file (empty Name for none). A last
// activated version that does not load stops the start (fail closed): the node does not
// decide by another policy than the one its operators last activated without being told.
func Startup(ctx context.Context, acts Activations, file Document, preferFile bool) (Document, error) {
	file.Origin = OriginFile
	if file.Name == "" {
		file.Origin = OriginNone
	}
	if preferFile {
		return file, nil
	}
	a, err := acts.LastPolicyActivation(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return file, nil
	}
	if err != nil {
		return Document{}, fmt.Errorf("policy: reading the last activated version: %w", err)
	}
	p, err := policy.Load(a.Name, a.Source)
	if err != nil {
		return Document{}, fmt.Errorf("policy: the last activated version %q (activated by %s at %s, kept in the region's store) does not load, "+
			"so the node does not start rather than decide by another policy; set policy_start: file to start from policy_file: %w",
			a.Version, a.Actor, a.At.Format(time.RFC3339), err)
	}
	return Document{Name: a.Name, Source: a.Source, Policy: p, ActivatedBy: a.Actor, ActivatedAt: a.At, Origin: OriginActivated}, nil
}

// AuditStart writes which version a node started with, and from where.
func AuditStart(ctx context.Context, audit *auditlog.Log, d Document, file string) {
	v := version(d.Policy)
	var detail string
	switch d.Origin {
	case OriginActivated:
		detail = fmt.Sprintf("the last activated version, from the region's store (activated by %s at %s)", d.ActivatedBy, d.ActivatedAt.Format(time.RFC3339))
		if file != "" {
			detail += "; policy_file " + file + " not used"
		}
	case OriginFile:
		detail = "policy_file " + d.Name
	default:
		detail = "no policy_file and nothing activated: no rules"
	}
	audit.Write(ctx, store.AuditEntry{Actor: "system", Action: "policy.start", Subject: v, Outcome: "ok", Detail: detail})
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

// Activate makes the staged version the running one, keeps it in the region's store for
// the restart, and audits who did it, when, and the rules it added, removed and changed.
// A version that cannot be kept is not activated (the error says why).
func (s *Service) Activate(ctx context.Context, actor string) (Document, RuleChanges, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staged == nil {
		return Document{}, RuleChanges{}, ErrNothingStaged
	}
	d := *s.staged
	p, err := policy.Load(d.Name, d.Source)
	if err != nil { // it loaded when staged; one that does not now keeps the running one
		return Document{}, RuleChanges{}, err
	}
	now := s.now()
	if s.o.Activations != nil {
		if _, err := s.o.Activations.AppendPolicyActivation(ctx, store.PolicyActivation{At: now, Actor: actor, Name: d.Name,
			Version: p.Version, Source: d.Source}); err != nil {
			s.audit.Write(ctx, store.AuditEntry{At: now, Actor: actor, Action: "policy.activate", Subject: p.Version, Outcome: "not_persisted"})
			return Document{}, RuleChanges{}, fmt.Errorf("policyadmin: keeping the version for the restart: %w", err)
		}
	}
	prev := s.holder.Replace(p)
	d.Policy, d.ActivatedBy, d.ActivatedAt, d.Origin = p, actor, now, OriginActivated
	changes := CompareRules(prev, d.Policy)
	s.running, s.staged = d, nil
	s.audit.Write(ctx, store.AuditEntry{At: now, Actor: actor, Action: "policy.activate", Subject: d.Policy.Version, Outcome: "ok",
		Detail: "from " + version(prev) + " to " + d.Policy.Version + ": " + changes.Summary()})
	if s.o.Announcer != nil {
		// Every node decides by the one policy: the others run it as soon as they hear.
		if err := s.o.Announcer.AnnounceActivation(ctx, store.PolicyActivation{At: now, Actor: actor, Name: d.Name,
			Version: p.Version, Source: d.Source}); err != nil {
			s.audit.Write(ctx, store.AuditEntry{At: now, Actor: actor, Action: "policy.announce", Subject: p.Version, Outcome: "failed", Detail: err.Error()})
		}
	}
	return d, changes, nil
}

// ApplyActivation runs a version another node activated (from names it), unless this node
// runs a later activation already: it is checked again, kept in this region's store for
// the restart, and audited. A document that does not load changes nothing.
func (s *Service) ApplyActivation(ctx context.Context, a store.PolicyActivation, from string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// By the millisecond, as the store keeps it: the same activation heard twice, or one
	// already read back from the store, is not newer.
	if !a.At.Truncate(time.Millisecond).After(s.running.ActivatedAt.Truncate(time.Millisecond)) {
		return nil
	}
	p, err := policy.Load(a.Name, a.Source)
	if err != nil {
		s.audit.Write(ctx, store.AuditEntry{At: s.now(), Actor: a.Actor, Action: "policy.activate", Subject: a.Version, Outcome: "invalid",
			Detail: "announced by " + from})
		return fmt.Errorf("policyadmin: the version announced by %s: %w", from, err)
	}
	if p.Version != a.Version {
		return fmt.Errorf("policyadmin: the version announced by %s is %q, its document %q", from, a.Version, p.Version)
	}
	if s.o.Activations != nil {
		if _, err := s.o.Activations.AppendPolicyActivation(ctx, store.PolicyActivation{At: a.At, Actor: a.Actor, Name: a.Name,
			Version: a.Version, Source: a.Source}); err != nil {
			return fmt.Errorf("policyadmin: keeping the version announced by %s: %w", from, err)
		}
	}
	prev := s.holder.Replace(p)
	s.running = Document{Name: a.Name, Source: a.Source, Policy: p, ActivatedBy: a.Actor, ActivatedAt: a.At, Origin: OriginActivated}
	s.audit.Write(ctx, store.AuditEntry{At: s.now(), Actor: a.Actor, Action: "policy.activate", Subject: p.Version, Outcome: "ok",
		Detail: "announced by " + from + ": from " + version(prev) + " to " + p.Version + ": " + CompareRules(prev, p).Summary()})
	return nil
}

func (s *Service) local() Local {
	return Local{Region: s.o.Region, Source: s.src, Decisions: s.o.Decisions, ReplayWindow: s.o.ReplayWindow, ReplayRows: s.o.ReplayRows}
}

// DryRun reports what next would change at the moment at (now by the Service's clock if
// zero) in every region of the deployment, each against the version it runs: this
// region's part computed here, the others' asked of a node of each over Remote, at once. A
// region that does not answer is reported as such.
func (s *Service) DryRun(ctx context.Context, next Document, at time.Time) (Report, error) {
	now := s.now()
	if at.IsZero() {
		at = now
	}
	type answer struct {
		res RegionResult
		err error
	}
	answers := make([]answer, len(s.o.Regions))
	var wg sync.WaitGroup
	for i, r := range s.o.Regions {
		if r == s.o.Region {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &answers[i]
			if s.o.Remote == nil {
				a.err = errors.New("no way to ask other regions")
				return
			}
			a.res, a.err = s.o.Remote.DryRun(ctx, r, next.Source, at)
			if a.err == nil && a.res.Region != r {
				a.err = fmt.Errorf("answered for region %q", a.res.Region)
			}
		}()
	}
	local, err := s.local().Run(ctx, s.holder.Policy(), next.Policy, at, now)
	wg.Wait()
	if err != nil {
		return Report{}, err
	}
	rep := newReport(s.holder.Policy(), next.Policy, at)
	for i, r := range s.o.Regions {
		if r == s.o.Region {
			answers[i].res = local
		}
		if answers[i].err != nil {
			rep.unanswered(r, answers[i].err)
			continue
		}
		rep.add(answers[i].res)
	}
	return rep, nil
}

// RegionDryRun is this region's part of a dry run, against the version running here, for
// a node of another region that asked.
func (s *Service) RegionDryRun(ctx context.Context, next *policy.Policy, at time.Time) (RegionResult, error) {
	return s.local().Run(ctx, s.holder.Policy(), next, at, s.now())
}

// Decisions returns the entries of this region's decision log q selects, newest first.
func (s *Service) Decisions(ctx context.Context, q store.DecisionQuery) ([]store.PolicyDecision, error) {
	if s.o.Decisions == nil {
		return nil, nil
	}
	return s.o.Decisions.List(ctx, q)
}
