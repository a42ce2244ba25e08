package meeting

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // time zones work on hosts without a zoneinfo database

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/label"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/ratelimit"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

// Store is what the Service needs of the persistence layer (*store.Store has it all).
type Store interface {
	CreateMeeting(ctx context.Context, m store.Meeting) (store.Meeting, error)
	GetMeeting(ctx context.Context, id string) (store.Meeting, error)
	ListMeetingsByAccount(ctx context.Context, accountID string, limit int) ([]store.Meeting, error)
	UpdateMeetingStatus(ctx context.Context, id, status string, at time.Time) error
	IsRemoved(ctx context.Context, meetingID, identity string) (bool, error)
	AddRemoval(ctx context.Context, meetingID, identity string, at time.Time) error
	SetMeetingLocked(ctx context.Context, id string, locked bool) error
	UpdateMeetingPlan(ctx context.Context, m store.Meeting) error
	SetMeetingLive(ctx context.Context, id string, at time.Time, allowed string) error
	GetAccount(ctx context.Context, id string) (store.Account, error)
	GetUser(ctx context.Context, id string) (store.User, error)
	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
}

// RegionsOf returns the set of regions an account's meetings may use now;
// account.Service.AllowedRegions is the one decision.
type RegionsOf func(ctx context.Context, a store.Account) (topology.AllowedSet, error)

// Minter mints the signed join tokens the SFU's signalling checks (*token.Issuer is one).
type Minter interface {
	Mint(room, identity, name string, g token.Grants, ttl time.Duration) (string, error)
}

// HostDecider decides whether an account may host; policy.MayHost is the one decision,
// and a Service uses it unless a test gives it another.
type HostDecider func(f policy.HostFacts, now time.Time) policy.Decision

// Meeting kinds.
const (
	KindInstant   = "instant"
	KindScheduled = "scheduled"
)

// Defaults and bounds.
const (
	// DefaultTokenTTL is how long an SFU join token lets its bearer open the signalling
	// WebSocket. It is short on purpose: the signalling layer knows nothing of meetings,
	// so a token must not outlive the decision that granted it by much. Reconnecting
	// clients ask for a new one.
	DefaultTokenTTL = 5 * time.Minute
	// DefaultWarnBefore is how long before a time limit the participants are warned.
	DefaultWarnBefore = 5 * time.Minute
	// DefaultDurationMinutes is a meeting's planned length when none is given.
	DefaultDurationMinutes = 60
	// MaxDurationMinutes bounds a meeting's planned length (not its time limit, which is
	// the plan's).
	MaxDurationMinutes = 24 * 60
	// MaxScheduleAhead bounds how far ahead a meeting may be scheduled.
	MaxScheduleAhead = 2 * 366 * 24 * time.Hour
	// scheduleGrace lets a meeting be scheduled a little in the past (clock skew, a form
	// left open).
	scheduleGrace = 5 * time.Minute

	maxTopicLength    = 200
	maxNameLength     = 100
	maxTimeZoneLength = 64
	maxPasscodeLength = 64
	maxIDInputLength  = 32
)

// roomPrefix starts the name of every meeting's SFU room: "m-" and the meeting id.
const roomPrefix = "m-"

// Room is the SFU room of a meeting.
func Room(meetingID string) string { return roomPrefix + meetingID }

// MeetingOfRoom is Room's inverse: the meeting id of a meeting's room, and ok false for a
// room that is no meeting's (one made with a hand-minted token).
func MeetingOfRoom(room string) (id string, ok bool) { return strings.CutPrefix(room, roomPrefix) }

// Meeting is a stored meeting as its host sees it.
type Meeting struct {
	store.Meeting
	// JoinToken is the token in the meeting's join link (JoinTokenHash is its hash). It is
	// derived from the meeting id with the Service's secret, never stored.
	JoinToken string
	// MaxLength is the time limit of the account's plan when the meeting went live (0 for
	// none); zero unless the meeting is live.
	MaxLength time.Duration
}

// Deadline is when a live meeting ends by its plan's time limit: StartedAt plus
// MaxLength. It is zero when there is no limit or the meeting is not live.
func Deadline(m Meeting) time.Time {
	if m.StartedAt.IsZero() || m.MaxLength <= 0 {
		return time.Time{}
	}
	return m.StartedAt.Add(m.MaxLength)
}

// AllowedRegions are the regions that may carry a meeting: its host account's set when it
// last went live. It is empty for a meeting that never went live.
func AllowedRegions(m Meeting) []string {
	if m.Meeting.AllowedRegions == "" {
		return []string{}
	}
	return strings.Split(m.Meeting.AllowedRegions, ",")
}

// allowedRegions is the set a meeting of the account takes when it goes live. An account
// whose set cannot be decided starts no meeting: a meeting is never carried where it may
// not be.
func (s *Service) allowedRegions(ctx context.Context, accountID string) (topology.AllowedSet, error) {
	a, err := s.store.GetAccount(ctx, accountID)
	if err != nil {
		return topology.AllowedSet{}, err
	}
	if s.regionsOf == nil {
		return topology.NewAllowedSet(a.Region)
	}
	set, err := s.regionsOf(ctx, a)
	if err == nil && set.Len() == 0 {
		err = errors.New("no region allowed")
	}
	if err != nil {
		return topology.AllowedSet{}, fmt.Errorf("meeting: the allowed regions of account %s: %w", a.ID, err)
	}
	return set, nil
}

// Ticket is what a participant needs to enter a meeting's SFU room.
type Ticket struct {
	Meeting Meeting
	// Token is the SFU join token for Room, with Identity and Name, valid until
	// ExpiresAt.
	Token     string
	Room      string
	Identity  string
	Name      string
	Host      bool
	ExpiresAt time.Time
	// Waiting: the meeting has a waiting room and the participant is not its host, so
	// the host must admit them. The admission itself belongs to the signalling layer.
	Waiting bool
	// Node is where to connect: the node carrying the meeting (zero without a Placer).
	Node Node
}

// Options tune a Service; the zero value is usable.
type Options struct {
	Now        func() time.Time // time.Now if nil
	Log        *slog.Logger     // slog.Default() if nil
	Limits     Limits           // DefaultLimits() if zero
	TokenTTL   time.Duration    // DefaultTokenTTL if zero; at most token.MaxTTL
	WarnBefore time.Duration    // DefaultWarnBefore if zero
	// MayHost replaces policy.MayHost; for tests only.
	MayHost HostDecider
	// OnWarning is called by Tick when a live meeting nears its time limit; OnEnded when
	// a meeting ends, by its host or its time limit. Either may be nil. They are called
	// without locks held, and must not block for long.
	OnWarning func(meetingID string, deadline time.Time)
	OnEnded   func(meetingID, reason string)
	// Occupancy, if set, counts who is in a meeting's room now (waiting room included)
	// but identity, whose new session would take its present one's seat, so that tickets
	// beyond the plan's participant limit are refused. The room enforces the limit too.
	Occupancy func(meetingID, identity string) int
	// Audit is the audit trail, shared with the other services; one of the Service's own
	// over the store if nil.
	Audit *auditlog.Log
	// Sleep waits out the delay of a join slowed by its meeting's ceiling;
	// ratelimit.Sleep if nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Policy holds the running jurisdiction policy, which decides with the plan who may
	// host (policy.MayHost) and who may join and enter (policy.Join, policy.Enter); nil,
	// or a nil policy in it, restricts nothing.
	Policy *policy.Holder
	// Placer picks the node that carries each live meeting; without one, tickets name no
	// node (the participant stays on the node that answered).
	Placer Placer
	// AllowedRegions gives a meeting its host account's allowed set when it goes live.
	// Without it a meeting is allowed its account's home region alone.
	AllowedRegions RegionsOf
}

// Service is the meeting domain: scheduling, starting, joining and ending meetings, and
// their time limits. It is safe for concurrent use.
type Service struct {
	store      Store
	mint       Minter
	linkKey    []byte
	now        func() time.Time
	log        *slog.Logger
	mayHost    HostDecider
	policy     *policy.Holder
	tokenTTL   time.Duration
	warnBefore time.Duration
	onWarning  func(string, time.Time)
	onEnded    func(string, string)
	occupancy  func(string, string) int
	regionsOf  RegionsOf
	placer     Placer

	auditLog *auditlog.Log
	sleep    func(context.Context, time.Duration) error
	maxDelay time.Duration

	perIP, perSite, perMeetingIP, perMeeting *ratelimit.Set

	// tmu serialises a meeting's status changes (read, decide, write); it is taken
	// before mu.
	tmu sync.Mutex
	// mu guards live: when each live meeting started and its time limit. It is memory of
	// this node: a restart forgets it, and a live meeting found afterwards is timed from
	// when it was found.
	mu   sync.Mutex
	live map[string]*liveMeeting
}

type liveMeeting struct {
	startedAt time.Time
	maxLength time.Duration
	warned    bool
}

func (lm *liveMeeting) deadline() time.Time {
	if lm.maxLength <= 0 {
		return time.Time{}
	}
	return lm.startedAt.Add(lm.maxLength)
}

// linkLabel separates the join-link MAC from every other use of the server's secret
// (which also signs the SFU's join tokens).
const linkLabel = "meridian/meeting-join-link/v1\x00"

// New returns a Service over st that mints SFU join tokens with m. secret is the server's
// signing secret: join-link tokens are HMACs of meeting ids under it, so that the host can
// be shown the link again while only its hash is stored.
func New(st Store, m Minter, secret []byte, o Options) (*Service, error) {
	if len(secret) < 16 {
		return nil, errors.New("meeting: the secret is shorter than 16 bytes")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits()
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.TokenTTL > token.MaxTTL {
		return nil, fmt.Errorf("meeting: token ttl over %s", token.MaxTTL)
	}
	if o.WarnBefore <= 0 {
		o.WarnBefore = DefaultWarnBefore
	}
	if o.MayHost == nil {
		o.MayHost = policy.MayHost
	}
	if o.Audit == nil {
		o.Audit = auditlog.New(st, auditlog.Options{Now: o.Now, Log: o.Log})
	}
	if o.Sleep == nil {
		o.Sleep = ratelimit.Sleep
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(linkLabel))
	return &Service{
		store: st, mint: m, linkKey: mac.Sum(nil), now: o.Now, log: o.Log, mayHost: o.MayHost, policy: o.Policy,
		tokenTTL: o.TokenTTL, warnBefore: o.WarnBefore, onWarning: o.OnWarning, onEnded: o.OnEnded,
		occupancy: o.Occupancy, regionsOf: o.AllowedRegions, placer: o.Placer, auditLog: o.Audit, sleep: o.Sleep, maxDelay: o.Limits.JoinMaxDelay,
		perIP:        ratelimit.NewSet(o.Limits.JoinPerIP, o.Limits.MaxKeys),
		perSite:      ratelimit.NewSet(o.Limits.JoinPerSite, o.Limits.MaxKeys),
		perMeetingIP: ratelimit.NewSet(o.Limits.JoinPerMeetingIP, o.Limits.MaxKeys),
		perMeeting:   ratelimit.NewSet(o.Limits.JoinPerMeeting, o.Limits.MaxKeys),
		live:         map[string]*liveMeeting{},
	}, nil
}

// Join links.

// joinTokenLength is the length of a join-link token: the meeting id, then 43 characters
// of base64url MAC (256 bits).
const joinTokenLength = IDDigits + 43

// JoinToken returns the token of a meeting's join link: the meeting id followed by the
// base64url HMAC-SHA256 of the id under the Service's secret. Anyone holding it may join
// without the passcode; nobody can make one without the secret.
func (s *Service) JoinToken(meetingID string) string {
	return meetingID + base64.RawURLEncoding.EncodeToString(s.linkMAC(meetingID))
}

func (s *Service) linkMAC(id string) []byte {
	m := hmac.New(sha256.New, s.linkKey)
	m.Write([]byte(id))
	return m.Sum(nil)
}

// VerifyJoinToken returns the meeting id a join-link token was made for, comparing MACs in
// constant time; false for a token this Service did not make.
func (s *Service) VerifyJoinToken(tok string) (string, bool) {
	if len(tok) != joinTokenLength {
		return "", false
	}
	id := tok[:IDDigits]
	if n, ok := NormalizeID(id); !ok || n != id {
		return "", false
	}
	// Strict: a non-canonical encoding of the right MAC (other padding bits) is another
	// string, and one link has one spelling.
	got, err := base64.RawURLEncoding.Strict().DecodeString(tok[IDDigits:])
	if err != nil {
		return "", false
	}
	return id, hmac.Equal(got, s.linkMAC(id))
}

// Scheduling.

// ScheduleInput describes a new meeting. Options that are on by default are pointers:
// nil means the default.
type ScheduleInput struct {
	Topic string
	// Kind is KindInstant or KindScheduled; if empty, scheduled when StartsAt is set and
	// instant otherwise.
	Kind string
	// StartsAt is required for a scheduled meeting and must be empty for an instant one.
	StartsAt time.Time
	// DurationMinutes is the planned length; DefaultDurationMinutes if zero.
	DurationMinutes int
	// TimeZone is an IANA name ("Europe/Berlin"); "UTC" if empty.
	TimeZone string
	// Recurrence is one of Recurrences, or empty; scheduled meetings only.
	Recurrence string
	// Passcode (on by default) makes joining by meeting id need the passcode.
	Passcode *bool
	// WaitingRoom (on by default) holds participants until the host admits them.
	WaitingRoom *bool
	// JoinBeforeHost (off by default) lets participants in before the host starts it.
	JoinBeforeHost bool
	// RequireSignIn (off by default) refuses guests.
	RequireSignIn bool
}

// Schedule creates a meeting hosted by p, a signed-in user whose account may host.
func (s *Service) Schedule(ctx context.Context, p account.Principal, in ScheduleInput) (Meeting, error) {
	if p.ViaAPIKey() || p.User.ID == "" {
		return Meeting{}, forbidden("a meeting is hosted by a person: sign in to schedule one (API keys cannot)")
	}
	now := s.now()
	sm, err := s.checkSchedule(in, p.User.DisplayName, now)
	if err != nil {
		return Meeting{}, err
	}
	if _, err := s.decideHost(ctx, p.Account, p.Actor(), "meeting.schedule", ""); err != nil {
		return Meeting{}, err
	}
	sm.AccountID, sm.HostUserID, sm.Status, sm.CreatedAt = p.Account.ID, p.User.ID, store.MeetingScheduled, now
	if in.Passcode == nil || *in.Passcode {
		if sm.Passcode, err = NewPasscode(); err != nil {
			return Meeting{}, err
		}
	}
	for range 5 {
		if sm.ID, err = NewID(); err != nil {
			return Meeting{}, err
		}
		sm.JoinTokenHash = store.HashToken(s.JoinToken(sm.ID))
		created, err := s.store.CreateMeeting(ctx, sm)
		if errors.Is(err, store.ErrConflict) {
			continue // the id is taken: draw another
		}
		if err != nil {
			return Meeting{}, err
		}
		s.audit(ctx, p.Actor(), "meeting.schedule", created.ID, "ok", "kind="+created.Kind)
		return s.view(created), nil
	}
	return Meeting{}, errors.New("meeting: no free meeting id in 5 draws")
}

// checkSchedule validates in and returns the meeting it describes, without owner, id or
// secrets.
func (s *Service) checkSchedule(in ScheduleInput, hostName string, now time.Time) (store.Meeting, error) {
	topic := strings.TrimSpace(in.Topic)
	if topic == "" {
		topic = "Meeting"
		if hostName != "" {
			topic = hostName + "'s meeting"
		}
	}
	if err := checkText("topic", topic, maxTopicLength); err != nil {
		return store.Meeting{}, err
	}
	kind := in.Kind
	if kind == "" {
		kind = KindInstant
		if !in.StartsAt.IsZero() {
			kind = KindScheduled
		}
	}
	switch kind {
	case KindInstant:
		if !in.StartsAt.IsZero() || in.Recurrence != "" {
			return store.Meeting{}, invalid("an instant meeting has no start time and no recurrence")
		}
	case KindScheduled:
		switch {
		case in.StartsAt.IsZero():
			return store.Meeting{}, invalid("a scheduled meeting needs a start time")
		case in.StartsAt.Before(now.Add(-scheduleGrace)):
			return store.Meeting{}, invalid("the start time is in the past")
		case in.StartsAt.After(now.Add(MaxScheduleAhead)):
			return store.Meeting{}, invalid("a meeting can be scheduled at most two years ahead")
		}
	default:
		return store.Meeting{}, invalid(`kind must be "instant" or "scheduled"`)
	}
	dur := in.DurationMinutes
	if dur == 0 {
		dur = DefaultDurationMinutes
	}
	if dur < 1 || dur > MaxDurationMinutes {
		return store.Meeting{}, invalid(fmt.Sprintf("the duration must be 1 to %d minutes", MaxDurationMinutes))
	}
	tz := strings.TrimSpace(in.TimeZone)
	if tz == "" {
		tz = "UTC"
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" || len(tz) > maxTimeZoneLength {
		return store.Meeting{}, invalid(fmt.Sprintf("unknown time zone %q: give an IANA name such as Europe/Berlin", in.TimeZone))
	}
	if !validRecurrence(in.Recurrence) {
		return store.Meeting{}, invalid("recurrence must be one of " + strings.Join(Recurrences, ", ") + ", or empty")
	}
	return store.Meeting{
		Topic: topic, Kind: kind, StartsAt: in.StartsAt, DurationMinutes: dur, TimeZone: tz,
		Recurrence: in.Recurrence, WaitingRoom: in.WaitingRoom == nil || *in.WaitingRoom,
		JoinBeforeHost: in.JoinBeforeHost, RequireSignIn: in.RequireSignIn,
	}, nil
}

// Reading.

// Get returns a meeting of p's account. Owners, admins and keys with meetings:read see
// every meeting of the account; members see their own. Any other meeting is not_found.
func (s *Service) Get(ctx context.Context, p account.Principal, id string) (Meeting, error) {
	if !p.Allows(account.ScopeMeetingsRead) {
		return Meeting{}, forbidden("this API key lacks the scope " + account.ScopeMeetingsRead)
	}
	sm, err := s.ownMeeting(ctx, p, id)
	if err != nil {
		return Meeting{}, err
	}
	return s.view(sm), nil
}

// List returns the meetings of p's account that p may see (see Get), newest first, at
// most limit of them (store.DefaultListLimit if limit <= 0).
func (s *Service) List(ctx context.Context, p account.Principal, limit int) ([]Meeting, error) {
	if !p.Allows(account.ScopeMeetingsRead) {
		return nil, forbidden("this API key lacks the scope " + account.ScopeMeetingsRead)
	}
	sms, err := s.store.ListMeetingsByAccount(ctx, p.Account.ID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Meeting, 0, len(sms))
	for _, sm := range sms {
		if seesAll(p) || sm.HostUserID == p.User.ID {
			out = append(out, s.view(sm))
		}
	}
	return out, nil
}

func seesAll(p account.Principal) bool {
	return p.ViaAPIKey() || p.User.Role == account.RoleOwner || p.User.Role == account.RoleAdmin
}

// ownMeeting returns a meeting p may see, or ErrNotFound.
func (s *Service) ownMeeting(ctx context.Context, p account.Principal, id string) (store.Meeting, error) {
	id, ok := NormalizeID(id)
	if !ok {
		return store.Meeting{}, ErrNotFound
	}
	sm, err := s.store.GetMeeting(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Meeting{}, ErrNotFound
	}
	if err != nil {
		return store.Meeting{}, err
	}
	if sm.AccountID != p.Account.ID || (!seesAll(p) && sm.HostUserID != p.User.ID) {
		return store.Meeting{}, ErrNotFound
	}
	return sm, nil
}

// view is a stored meeting with what the Service knows beside the store.
func (s *Service) view(sm store.Meeting) Meeting {
	m := Meeting{Meeting: sm, JoinToken: s.JoinToken(sm.ID)}
	if sm.Status == store.MeetingLive {
		s.mu.Lock()
		if lm := s.live[sm.ID]; lm != nil {
			m.StartedAt, m.MaxLength = lm.startedAt, lm.maxLength
		}
		s.mu.Unlock()
	}
	return m
}

// Starting and ending.

// Start starts a meeting as its host, or lets the host back into it when it is live, and
// returns the host's ticket. Only the meeting's host may, and only while policy.MayHost
// allows the account to host. A meeting that ended stays ended, unless it recurs: then
// starting it begins its next occurrence.
func (s *Service) Start(ctx context.Context, p account.Principal, id string) (Ticket, error) {
	return s.start(ctx, p, id, topology.Origin{})
}

func (s *Service) start(ctx context.Context, p account.Principal, id string, from topology.Origin) (Ticket, error) {
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
	node, err := s.place(ctx, m, from, p.Actor())
	if err != nil {
		return Ticket{}, err
	}
	return s.ticket(m, p.User.ID, p.User.DisplayName, true, false, ent.MaxParticipants, node)
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
	p := s.runningPolicy()
	d := s.mayHost(policy.HostFacts{PlanAllowsHosting: ent.Host, Policy: p, Facts: account.PolicyFacts(p, a)}, s.now())
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

// decideJoin asks the jurisdiction policy whether a signed-in participant's account may
// join meetings others host (policy.Join), and whether a participant from their account's
// country may enter a meeting of the host's account (policy.Enter). A guest's country is
// not known (there is no GeoIP lookup yet), so only the rules without it apply to guests.
func (s *Service) decideJoin(ctx context.Context, in JoinInput, host store.Account, actor, id string) error {
	p := s.runningPolicy()
	if p == nil {
		return nil
	}
	now := s.now()
	country := ""
	if in.Principal != nil {
		pf := account.PolicyFacts(p, in.Principal.Account)
		if d := policy.Join(p, pf, now); !d.Allowed {
			return s.policyRefusal(ctx, actor, "meeting.join", id, d)
		}
		country = pf.Country
	}
	hf := account.PolicyFacts(p, host)
	hf.ParticipantCountry = country
	if d := policy.Enter(p, hf, now); !d.Allowed {
		return s.policyRefusal(ctx, actor, "meeting.join", id, d)
	}
	return nil
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

// Joining.

// JoinInput is a request to join a meeting: by its id and passcode, or by the token of its
// join link.
type JoinInput struct {
	MeetingID string // as people type it; or
	LinkToken string
	Passcode  string // needed with MeetingID when the meeting has one
	// DisplayName is how the others see the participant; a signed-in user's own name if
	// empty.
	DisplayName string
	// Principal is the signed-in user joining, or nil for a guest.
	Principal *account.Principal
	// ClientIP is the address the request came from, for rate limiting and the audit log.
	ClientIP string
	// GuestKey is a random secret the guest's browser keeps (a cookie), so that a guest
	// has one identity across joins and a removal holds. Empty gives a new identity.
	GuestKey string
	// Origin is where the participant is, for placement: zero means the region of the
	// node the join came in through.
	Origin topology.Origin
}

// Join admits a participant to a meeting and returns their ticket. Guessing is costly:
// an unknown id, a wrong passcode and a forged link count as failures against the client
// address, alone and with the meeting id, and over either limit that address's attempts
// are refused with rate_limited; failures from all addresses against the meeting only
// slow its joins (see Limits), and a valid join link passes the meeting's limits. Every
// refusal is audited (a guest's repeated ones summed, see auditlog). The meeting's host,
// signed in, joining their own meeting starts it (see Start).
func (s *Service) Join(ctx context.Context, in JoinInput) (Ticket, error) {
	actor, userID, name := "anonymous", "", strings.TrimSpace(in.DisplayName)
	if p := in.Principal; p != nil && !p.ViaAPIKey() && p.User.ID != "" {
		actor, userID = p.User.ID, p.User.ID
		if name == "" {
			name = p.User.DisplayName
		}
	} else {
		in.Principal = nil
	}
	if name == "" {
		return Ticket{}, invalid("a display name is required")
	}
	if err := checkText("display name", name, maxNameLength); err != nil {
		return Ticket{}, err
	}
	if len(in.Passcode) > maxPasscodeLength || len(in.LinkToken) > 2*joinTokenLength || len(in.MeetingID) > maxIDInputLength {
		return Ticket{}, invalid("a field is too long")
	}
	var id string
	switch {
	case in.MeetingID != "" && in.LinkToken != "":
		return Ticket{}, invalid("give a meeting id or a join link token, not both")
	case in.LinkToken != "":
		// The id is checked against the link's MAC below, under the rate limits.
		if len(in.LinkToken) >= IDDigits {
			id = in.LinkToken[:IDDigits]
		}
		if n, ok := NormalizeID(id); !ok || n != id {
			id = "" // not even shaped like a link: counts against the address only
		}
	case in.MeetingID != "":
		var ok bool
		if id, ok = NormalizeID(in.MeetingID); !ok {
			return Ticket{}, invalid("a meeting id is 11 digits")
		}
	default:
		return Ticket{}, invalid("a meeting id or a join link token is required")
	}
	detail := "ip=" + in.ClientIP

	validLink := false
	if in.LinkToken != "" && id != "" {
		_, validLink = s.VerifyJoinToken(in.LinkToken)
	}
	gate, err := s.beginJoin(ctx, in.ClientIP, actor, id, validLink, detail)
	if err != nil {
		return Ticket{}, err
	}
	failed := false
	defer func() { gate.end(failed) }()
	if id == "" {
		failed = true
		s.refused(ctx, in.ClientIP, actor, "", "invalid_link", detail)
		return Ticket{}, ErrNotFound
	}
	guess := func(outcome string, e *Error) (Ticket, error) {
		failed = true
		s.refused(ctx, in.ClientIP, actor, id, outcome, detail)
		return Ticket{}, e
	}
	if in.LinkToken != "" && !validLink {
		return guess("invalid_link", ErrNotFound)
	}
	sm, err := s.store.GetMeeting(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return guess(CodeNotFound, ErrNotFound)
	}
	if err != nil {
		return Ticket{}, err
	}
	if in.LinkToken == "" && sm.Passcode != "" && !PasscodesEqual(in.Passcode, sm.Passcode) {
		return guess(CodeWrongPasscode, ErrWrongPasscode)
	}

	// The caller holds the meeting's credentials; what follows refuses on the meeting's
	// state, not a guess.
	refuse := func(e *Error) (Ticket, error) {
		s.refused(ctx, in.ClientIP, actor, id, e.Code, detail)
		return Ticket{}, e
	}
	if sm.Status == store.MeetingCancelled {
		return refuse(ErrMeetingCancelled)
	}
	if userID != "" && userID == sm.HostUserID {
		return s.start(ctx, *in.Principal, id, in.Origin)
	}
	if sm.Locked {
		return refuse(ErrMeetingLocked)
	}
	if sm.RequireSignIn && userID == "" {
		return refuse(ErrSignInRequired)
	}
	identity := userID
	if identity == "" {
		identity = guestIdentity(in.GuestKey)
	}
	removed, err := s.store.IsRemoved(ctx, id, identity)
	if err != nil {
		return Ticket{}, err
	}
	if removed {
		return refuse(ErrRemoved)
	}

	// Participants may start the meeting's clock (join before host) only if its account
	// may host: policy.MayHost decides, as for the host.
	if sm.Status != store.MeetingLive {
		if sm.Status == store.MeetingEnded && sm.Recurrence == "" {
			return refuse(ErrMeetingEnded)
		}
		if !sm.JoinBeforeHost {
			return refuse(ErrWaitingForHost)
		}
	}
	a, err := s.store.GetAccount(ctx, sm.AccountID)
	if err != nil {
		return Ticket{}, err
	}
	if err := s.decideJoin(ctx, in, a, actor, id); err != nil {
		return Ticket{}, err
	}
	ent, err := s.decideHost(ctx, a, actor, "meeting.join", id)
	if err != nil {
		return Ticket{}, err
	}
	if s.occupancy != nil && ent.MaxParticipants > 0 && s.occupancy(id, identity) >= ent.MaxParticipants {
		return refuse(meetingFull(ent.MaxParticipants))
	}
	s.tmu.Lock()
	m, ended, err := s.goLive(ctx, id, ent.MaxMeetingLength, actor, "a participant joined before the host", sm.JoinBeforeHost)
	s.tmu.Unlock()
	if ended != "" {
		s.notifyEnded(id, ended)
	}
	if e := (*Error)(nil); errors.As(err, &e) {
		return refuse(e)
	}
	if err != nil {
		return Ticket{}, err
	}
	node, err := s.place(ctx, m, in.Origin, actor)
	if err != nil {
		return Ticket{}, err
	}
	return s.ticket(m, identity, name, false, m.WaitingRoom, ent.MaxParticipants, node)
}

// guestIdentity is a guest's identity in rooms: derived from the key their browser keeps,
// so that it is the same on every join and tells nothing of the key; random without one.
func guestIdentity(key string) string {
	if key == "" {
		return "guest-" + strings.ToLower(rand.Text()[:16])
	}
	sum := sha256.Sum256([]byte("meridian/guest-identity/v1\x00" + key))
	return "guest-" + base64.RawURLEncoding.EncodeToString(sum[:12])
}

// ticket mints an SFU join token for a participant of a live meeting, valid for the
// Service's TokenTTL but never past the meeting's deadline. seats is the plan's
// participant limit, which the room enforces.
func (s *Service) ticket(m Meeting, identity, name string, host, waiting bool, seats int, node Node) (Ticket, error) {
	now := s.now()
	ttl := s.tokenTTL
	if d := Deadline(m); !d.IsZero() {
		ttl = min(ttl, d.Sub(now))
	}
	if ttl < time.Second {
		ttl = time.Second
	}
	g := token.Grants{Publish: true, Subscribe: true, Host: host, Waiting: waiting && !host, Seats: seats, Regions: AllowedRegions(m)}
	tok, err := s.mint.Mint(Room(m.ID), identity, name, g, ttl)
	if err != nil {
		return Ticket{}, fmt.Errorf("meeting: join token: %w", err)
	}
	return Ticket{
		Meeting: m, Token: tok, Room: Room(m.ID), Identity: identity, Name: name,
		Host: host, ExpiresAt: now.Add(ttl), Waiting: waiting && !host, Node: node,
	}, nil
}

// audit appends a decision to the audit log (see auditlog.Log.Write). A refusal of an
// anonymous request is a refusal of unauthenticated traffic, summed as refused sums them.
func (s *Service) audit(ctx context.Context, actor, action, subject, outcome, detail string) {
	e := store.AuditEntry{At: s.now(), Actor: actor, Action: action, Subject: subject, Outcome: outcome, Detail: detail}
	if actor == "anonymous" && outcome != "ok" {
		s.auditLog.Refusal(ctx, "", e)
		return
	}
	s.auditLog.Write(ctx, e)
}

// checkText refuses empty, overlong or invalid text, and text that is not shown as it
// reads: see package label.
func checkText(what, s string, maxRunes int) error {
	if e := label.Check(what, s, maxRunes); e != nil {
		return &Error{Code: e.Code, Message: e.Message}
	}
	return nil
}
