package meeting

import (
	"context"
	"crypto/hmac"
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
	"github.com/meridian-video/meridian/internal/decisionlog"
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
	GetAccountEntry(ctx context.Context, accountID string) (store.AccountEntry, error)
	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
}

// RegionsOf returns the set of regions an account's meetings may use now;
// account.Service.AllowedRegions is the one decision.
type RegionsOf func(ctx context.Context, a store.Account) (topology.AllowedSet, error)

// Minter mints the signed join tokens the SFU's signalling checks (*token.Issuer is one).
type Minter interface {
	Mint(room, identity, name string, g token.Grants, ttl time.Duration) (string, error)
}

// DecisionLog records jurisdiction policy decisions with the facts they were made from
// (*decisionlog.Log is one), for the dry run's replay.
type DecisionLog interface {
	Record(ctx context.Context, m decisionlog.Made)
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
	// Decisions records the policy's decisions with their facts; nil records none.
	Decisions DecisionLog
	// Routing records meetings' homes in a multi-region deployment's directory; nil in
	// one region.
	Routing Routing
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
	decided    DecisionLog
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

	routing Routing

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
		store: st, mint: m, linkKey: mac.Sum(nil), now: o.Now, log: o.Log, mayHost: o.MayHost, policy: o.Policy, decided: o.Decisions,
		tokenTTL: o.TokenTTL, warnBefore: o.WarnBefore, onWarning: o.OnWarning, onEnded: o.OnEnded,
		occupancy: o.Occupancy, regionsOf: o.AllowedRegions, placer: o.Placer, auditLog: o.Audit, sleep: o.Sleep, maxDelay: o.Limits.JoinMaxDelay,
		routing:      o.Routing,
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
		if taken, err := s.idTaken(ctx, sm.ID); err != nil {
			return Meeting{}, err
		} else if taken {
			continue
		}
		sm.JoinTokenHash = store.HashToken(s.JoinToken(sm.ID))
		created, err := s.store.CreateMeeting(ctx, sm)
		if errors.Is(err, store.ErrConflict) {
			continue // the id is taken: draw another
		}
		if err != nil {
			return Meeting{}, err
		}
		if err := s.addMeeting(ctx, created.ID); err != nil {
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

// audit appends a decision to the audit log (see auditlog.Log.Write). A refusal of an
// anonymous request is a refusal of unauthenticated traffic, summed as refused sums them.
func (s *Service) audit(ctx context.Context, actor, action, subject, outcome, detail string) {
	s.auditLog.Record(ctx, "", store.AuditEntry{
		At: s.now(), Actor: actor, Action: action, Subject: subject, Outcome: outcome, Detail: detail,
	})
}

// checkText refuses empty, overlong or invalid text, and text that is not shown as it
// reads: see package label.
func checkText(what, s string, maxRunes int) error {
	if e := label.Check(what, s, maxRunes); e != nil {
		return &Error{Code: e.Code, Message: e.Message}
	}
	return nil
}
