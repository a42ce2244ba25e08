package meeting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// Start starts a meeting as its host, or lets the host back into it when it is live, and
// returns the host's ticket. Only the meeting's host may, and only while policy.MayHost
// allows the account to host. A meeting that ended stays ended, unless it recurs: then
// starting it begins its next occurrence.
func (s *Service) Start(ctx context.Context, p account.Principal, id string) (Ticket, error) {
	return s.start(ctx, p, id, "", topology.Origin{})
}

// StartFrom is Start for a host connecting from country (as GeoIP tells it; empty if
// unknown) and from, as JoinInput's Country and Origin: the host enters under the same
// rules of entry by country as every participant.
func (s *Service) StartFrom(ctx context.Context, p account.Principal, id, country string, from topology.Origin) (Ticket, error) {
	return s.start(ctx, p, id, country, from)
}

func (s *Service) start(ctx context.Context, p account.Principal, id, country string, from topology.Origin) (Ticket, error) {
	if p.ViaAPIKey() || p.User.ID == "" {
		return Ticket{}, forbidden("a meeting is started by its host, signed in (API keys cannot)")
	}
	sm, err := s.ownMeeting(ctx, p, id)
	if err != nil {
		return Ticket{}, err
	}
	if sm.HostUserID != p.User.ID {
		s.audit(ctx, p.Actor(), "meeting.start", sm.ID, "denied", "not the host")
		return Ticket{}, forbidden("only the meeting's host can start it")
	}
	ent, err := s.decideHost(ctx, p.Account, p.Actor(), "meeting.start", sm.ID)
	if err != nil {
		return Ticket{}, err
	}
	if err := s.decideEntry(ctx, p.Account, &p, country, "", p.Actor(), "meeting.start", sm.ID); err != nil {
		return Ticket{}, err
	}
	s.tmu.Lock()
	m, ended, err := s.goLive(ctx, sm.ID, ent.MaxMeetingLength, p.Actor(), "started by the host", true)
	s.tmu.Unlock()
	if ended != "" {
		s.notifyEnded(sm.ID, ended)
	}
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) {
			s.audit(ctx, p.Actor(), "meeting.start", sm.ID, e.Code, "")
		}
		return Ticket{}, err
	}
	node, err := s.place(ctx, m, channelOf(p.Account), s.origin(country, from), p.Actor())
	if err != nil {
		return Ticket{}, err
	}
	return s.ticket(m, channelOf(p.Account), p.User.ID, p.User.DisplayName, true, false, ent.MaxParticipants, node)
}

// decideHost asks policy.MayHost whether account a may host, with its plan's entitlements
// as facts, and returns the entitlements. A refusal is audited and returned with the
// decision's code. An unknown plan entitles to nothing.
func (s *Service) decideHost(ctx context.Context, a store.Account, actor, action, subject string) (account.Entitlements, error) {
	ent, err := account.EntitlementsOf(account.Plan(a.Plan))
	if err != nil {
		s.log.WarnContext(ctx, "account with an unknown plan", "account", a.ID, "plan", a.Plan)
		ent = account.Entitlements{}
	}
	p, now := s.runningPolicy(), s.now()
	f := account.PolicyFacts(p, a)
	d := s.mayHost(policy.HostFacts{PlanAllowsHosting: ent.Host, Policy: p, Facts: f}, now)
	if ent.Host { // past the plan check, the jurisdiction rules decided
		s.decision(ctx, policy.QHost, a.ID, f, d, now, actor == "anonymous")
	}
	if !d.Allowed {
		return account.Entitlements{}, s.policyRefusal(ctx, actor, action, subject, d)
	}
	return ent, nil
}

func (s *Service) runningPolicy() *policy.Policy {
	if s.policy == nil {
		return nil
	}
	return s.policy.Policy()
}

// policyRefusal audits a refusing decision, with its rule when a jurisdiction rule
// decided, and returns it as an Error: the decision's code, its plain-words explanation,
// and the decision itself when a rule decided, for its alternatives.
func (s *Service) policyRefusal(ctx context.Context, actor, action, subject string, d policy.Decision) error {
	if d.RuleID == "" {
		s.audit(ctx, actor, action, subject, d.Code, d.Reason)
		return &Error{Code: d.Code, Message: d.Reason}
	}
	s.audit(ctx, actor, action, subject, d.Code, "rule="+d.RuleID+" jurisdiction="+d.Jurisdiction+" policy="+d.PolicyVersion)
	return &Error{Code: d.Code, Message: d.Explain(), Decision: &d}
}

// decision hands a jurisdiction decision to the decision log, if any.
func (s *Service) decision(ctx context.Context, q policy.Question, subject string, f policy.Facts, d policy.Decision, at time.Time, anonymous bool) {
	if s.decided != nil {
		s.decided.Record(ctx, decisionlog.Made{Question: q, Subject: subject, Facts: f, Decision: d, At: at, Anonymous: anonymous})
	}
}

// decideJoin asks the jurisdiction policy whether a signed-in participant's account may
// join meetings others host (policy.Join), then decides their entry (decideEntry).
func (s *Service) decideJoin(ctx context.Context, in JoinInput, host store.Account, actor, id string) error {
	// Asked with no policy running too (everything is allowed), so that the first version
	// activated has decisions to replay.
	p, now := s.runningPolicy(), s.now()
	if in.Principal != nil {
		pf := account.PolicyFacts(p, in.Principal.Account)
		d := policy.Join(p, pf, now)
		s.decision(ctx, policy.QJoin, in.Principal.Account.ID, pf, d, now, false)
		if !d.Allowed {
			return s.policyRefusal(ctx, actor, "meeting.join", id, d)
		}
	}
	return s.decideEntry(ctx, host, in.Principal, in.Country, in.ClientIP, actor, "meeting.join", id)
}

// decideEntry decides whether a participant connecting from country (GeoIP's; empty if
// unknown) may enter a meeting of the host account: the jurisdiction policy first
// (policy.Enter, with the participant's country: GeoIP's, or else a signed-in
// participant's account's, or none for a guest without GeoIP; recorded in the decision
// log), then the host account's rule of entry by country, which goes by GeoIP's country
// alone. Refusals are audited (a guest's repeated ones from clientIP summed).
func (s *Service) decideEntry(ctx context.Context, host store.Account, participant *account.Principal, country, clientIP, actor, action, id string) error {
	p, now := s.runningPolicy(), s.now()
	hf := account.PolicyFacts(p, host)
	hf.ParticipantCountry = country
	if country == "" && participant != nil {
		hf.ParticipantCountry = account.PolicyFacts(p, participant.Account).Country
	}
	d := policy.Enter(p, hf, now)
	s.decision(ctx, policy.QEnter, id, hf, d, now, participant == nil)
	if !d.Allowed {
		return s.policyRefusal(ctx, actor, action, id, d)
	}
	stored, err := s.store.GetAccountEntry(ctx, host.ID)
	if err != nil {
		return fmt.Errorf("meeting: entry rule: %w", err)
	}
	rule, err := account.EntryRuleOf(stored)
	if err != nil {
		return fmt.Errorf("meeting: entry rule of account %s: %w", host.ID, err) // refused: fail closed
	}
	if e := rule.Admit(country); e != nil {
		s.auditLog.Record(ctx, clientIP, store.AuditEntry{At: now, Actor: actor, Action: action, Subject: id,
			Outcome: e.Code, Detail: "country=" + orUnknown(country) + " rule=" + rule.String()})
		return &Error{Code: e.Code, Message: e.Message}
	}
	return nil
}

func orUnknown(country string) string {
	if country == "" {
		return "unknown"
	}
	return country
}

// origin is where placement counts a participant: from, with the jurisdiction of their
// GeoIP country when they have one (the policy's jurisdiction of the country, or else the
// country's code, which regions may name as their jurisdiction). topology.Place uses the
// most precise it is given: a GeoIP position first.
func (s *Service) origin(country string, from topology.Origin) topology.Origin {
	if country == "" || from.Jurisdiction != "" {
		return from
	}
	j := country
	if p := s.runningPolicy(); p != nil {
		if pj, ok := p.JurisdictionOf(country); ok {
			j = pj.Code
		}
	}
	if topology.ValidJurisdiction(j) {
		from.Jurisdiction = j
	}
	return from
}

// goLive makes meeting id live, unless it is, with the given time limit, and returns it.
// A live meeting past its deadline is ended instead (ended says why, for notifyEnded);
// an ended meeting that does not recur is ErrMeetingEnded, a cancelled one
// ErrMeetingCancelled. When start is false a meeting
// that is not live is left as it is and ErrWaitingForHost returned. Called with s.tmu held.
func (s *Service) goLive(ctx context.Context, id string, limit time.Duration, actor, detail string, start bool) (m Meeting, ended string, err error) {
	sm, err := s.store.GetMeeting(ctx, id)
	if err != nil {
		return Meeting{}, "", err
	}
	now := s.now()
	switch sm.Status {
	case store.MeetingLive:
		s.mu.Lock()
		lm := s.live[id]
		if lm == nil {
			// Live before this node's memory begins (a restart): time it from when it
			// went live, as stored, under the plan it has now.
			started := sm.StartedAt
			if started.IsZero() {
				started = now
				s.log.WarnContext(ctx, "live meeting of unknown start: its time limit counts from now", "meeting", id)
			}
			lm = &liveMeeting{startedAt: started, maxLength: limit}
			s.live[id] = lm
		}
		m = Meeting{Meeting: sm, JoinToken: s.JoinToken(id), MaxLength: lm.maxLength}
		m.StartedAt = lm.startedAt
		s.mu.Unlock()
		if d := Deadline(m); !d.IsZero() && !now.Before(d) {
			if err := s.endLocked(ctx, id, "system", EndedByTimeLimit); err != nil {
				return Meeting{}, "", err
			}
			return Meeting{}, EndedByTimeLimit, ErrMeetingEnded
		}
		return m, "", nil
	case store.MeetingEnded:
		if sm.Recurrence == "" {
			return Meeting{}, "", ErrMeetingEnded
		}
	case store.MeetingCancelled:
		return Meeting{}, "", ErrMeetingCancelled
	}
	if !start {
		return Meeting{}, "", ErrWaitingForHost
	}
	allowed, err := s.allowedRegions(ctx, sm.AccountID)
	if err != nil {
		return Meeting{}, "", err
	}
	if err := s.store.SetMeetingLive(ctx, id, now, allowed.String()); err != nil {
		return Meeting{}, "", err
	}
	s.mu.Lock()
	s.live[id] = &liveMeeting{startedAt: now, maxLength: limit}
	s.mu.Unlock()
	s.audit(ctx, actor, "meeting.start", id, "ok", detail)
	sm.Status, sm.StartedAt, sm.EndedAt, sm.AllowedRegions = store.MeetingLive, now, time.Time{}, allowed.String()
	return Meeting{Meeting: sm, JoinToken: s.JoinToken(id), MaxLength: limit}, "", nil
}

// End ends a meeting: its host, an owner or admin of its account, or a key with
// meetings:write may. Ending an ended meeting is not an error. A recurring meeting can be
// started again for its next occurrence.
func (s *Service) End(ctx context.Context, p account.Principal, id string) (Meeting, error) {
	if !p.Allows(account.ScopeMeetingsWrite) {
		return Meeting{}, forbidden("this API key lacks the scope " + account.ScopeMeetingsWrite)
	}
	sm, err := s.ownMeeting(ctx, p, id)
	if err != nil {
		return Meeting{}, err
	}
	if err := s.endBy(ctx, sm.ID, p.Actor()); err != nil {
		return Meeting{}, err
	}
	if sm, err = s.store.GetMeeting(ctx, sm.ID); err != nil {
		return Meeting{}, err
	}
	return s.view(sm), nil
}

// endLocked marks a meeting ended and forgets its clock. Called with s.tmu held.
func (s *Service) endLocked(ctx context.Context, id, actor, reason string) error {
	if err := s.store.UpdateMeetingStatus(ctx, id, store.MeetingEnded, s.now()); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.live, id)
	s.mu.Unlock()
	s.audit(ctx, actor, "meeting.end", id, "ok", reason)
	return nil
}

func (s *Service) notifyEnded(id, reason string) {
	if s.onEnded != nil {
		s.onEnded(id, reason)
	}
}

// Tick enforces time limits at the Service's clock: it warns (OnWarning) about each live
// meeting within WarnBefore of its deadline, once, and ends each one past it. The server
// calls it every few seconds.
func (s *Service) Tick(ctx context.Context) {
	now := s.now()
	type warning struct {
		id       string
		deadline time.Time
	}
	var warn []warning
	var due []string
	s.mu.Lock()
	for id, lm := range s.live {
		d := lm.deadline()
		switch {
		case d.IsZero():
		case !now.Before(d):
			due = append(due, id)
		case !lm.warned && !now.Before(d.Add(-s.warnBefore)):
			lm.warned = true
			warn = append(warn, warning{id, d})
		}
	}
	s.mu.Unlock()
	for _, w := range warn {
		s.audit(ctx, "system", "meeting.time_limit_warning", w.id, "ok", "ends at "+w.deadline.UTC().Format(time.RFC3339))
		if s.onWarning != nil {
			s.onWarning(w.id, w.deadline)
		}
	}
	for _, id := range due {
		ended, err := s.expire(ctx, id)
		if err != nil {
			s.log.ErrorContext(ctx, "meeting past its time limit not ended", "meeting", id, "err", err)
		}
		if ended {
			s.notifyEnded(id, EndedByTimeLimit)
		}
	}
}

// expire ends a meeting that Tick found past its deadline, if it is still live.
func (s *Service) expire(ctx context.Context, id string) (bool, error) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	sm, err := s.store.GetMeeting(ctx, id)
	if err != nil {
		return false, err
	}
	if sm.Status != store.MeetingLive { // ended meanwhile
		s.mu.Lock()
		delete(s.live, id)
		s.mu.Unlock()
		return false, nil
	}
	if err := s.endLocked(ctx, id, "system", EndedByTimeLimit); err != nil {
		return false, err
	}
	return true, nil
}
