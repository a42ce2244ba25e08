package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// MeetingIDDigits is the length of a meeting id (see package meeting).
const MeetingIDDigits = 11

// Meeting is an instant or scheduled meeting of an account.
type Meeting struct {
	// ID is 11 decimal digits, chosen by the caller: on ErrConflict it draws another.
	ID         string
	AccountID  string
	HostUserID string
	Region     string // the store's region if empty
	Topic      string
	// Kind is "instant" or "scheduled".
	Kind            string
	StartsAt        time.Time // zero for none (an instant meeting)
	DurationMinutes int
	TimeZone        string // IANA name, for showing StartsAt and expanding Recurrence
	Recurrence      string // a recurrence rule; empty for none
	// Passcode is stored as it is, not hashed: the host must be able to read it again to
	// share the invitation, and it is a secret meant to be shared with every invitee (it
	// rides in invitations and join links), not a credential of one person, so a hash
	// would protect little while making it unusable. Compare it in constant time. When
	// region key management arrives (roadmap: envelope encryption with a key per region),
	// it is encrypted at rest with the rest of the meeting's personal data.
	Passcode string
	// JoinTokenHash is HashToken of the token in the meeting's join link.
	JoinTokenHash  string
	WaitingRoom    bool
	JoinBeforeHost bool
	RequireSignIn  bool
	Locked         bool
	// Status is "scheduled", "live", "ended" or "cancelled".
	Status    string
	CreatedAt time.Time // now if zero
	StartedAt time.Time // when it last went live; zero if it never did
	EndedAt   time.Time // zero until ended
	// AllowedRegions are the regions that may carry the meeting, comma-separated as
	// topology.AllowedSet.String writes them: its host account's set when it last went
	// live, kept for its life. Only SetMeetingLive sets it (CreateMeeting stores none: a
	// meeting has no set before it goes live).
	AllowedRegions string
}

// Meeting statuses.
const (
	MeetingScheduled = "scheduled"
	MeetingLive      = "live"
	MeetingEnded     = "ended"
	// MeetingCancelled: the host called it off before it took place; it never goes live.
	MeetingCancelled = "cancelled"
)

var errBadMeetingID = errors.New("a meeting id is 11 decimal digits")

// validMeetingID checks the shape, not the meaning, of an id.
func validMeetingID(id string) bool {
	if len(id) != MeetingIDDigits {
		return false
	}
	for _, c := range []byte(id) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// CreateMeeting stores a new meeting. An id already in use gives ErrConflict (drawing
// another and retrying is the caller's job); an unknown account or host, ErrNotFound.
func (s *Store) CreateMeeting(ctx context.Context, m Meeting) (Meeting, error) {
	m, err := s.newMeeting(m)
	if err != nil {
		return Meeting{}, fail("create meeting", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO meetings (id, account_id, host_user_id, region, topic, kind,
		starts_at, duration_minutes, time_zone, recurrence, passcode, join_token_hash,
		waiting_room, join_before_host, require_sign_in, locked, status, created_at, started_at, ended_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		m.ID, m.AccountID, m.HostUserID, m.Region, m.Topic, m.Kind,
		nullMillis(m.StartsAt), m.DurationMinutes, m.TimeZone, nullString(m.Recurrence), m.Passcode, m.JoinTokenHash,
		boolInt(m.WaitingRoom), boolInt(m.JoinBeforeHost), boolInt(m.RequireSignIn), boolInt(m.Locked),
		m.Status, millis(m.CreatedAt), nullMillis(m.StartedAt), nullMillis(m.EndedAt))
	if err != nil {
		return Meeting{}, fail("create meeting", err)
	}
	return m, nil
}

func (s *Store) newMeeting(m Meeting) (Meeting, error) {
	region, err := s.regionOf(m.Region)
	if err != nil {
		return Meeting{}, err
	}
	if !validMeetingID(m.ID) {
		return Meeting{}, errBadMeetingID
	}
	m.Region, m.CreatedAt = region, stamp(m.CreatedAt)
	m.StartsAt, m.StartedAt, m.EndedAt = trunc(m.StartsAt), trunc(m.StartedAt), trunc(m.EndedAt)
	return m, nil
}

const meetingColumns = `id, account_id, host_user_id, region, topic, kind, starts_at, duration_minutes,
	time_zone, recurrence, passcode, join_token_hash, waiting_room, join_before_host, require_sign_in,
	locked, status, created_at, started_at, ended_at, allowed_regions`

func scanMeeting(r rowScanner) (Meeting, error) {
	var m Meeting
	var startsAt, startedAt, endedAt sql.NullInt64
	var recurrence sql.NullString
	var waiting, early, signIn, locked, created int64
	err := r.Scan(&m.ID, &m.AccountID, &m.HostUserID, &m.Region, &m.Topic, &m.Kind, &startsAt, &m.DurationMinutes,
		&m.TimeZone, &recurrence, &m.Passcode, &m.JoinTokenHash, &waiting, &early, &signIn,
		&locked, &m.Status, &created, &startedAt, &endedAt, &m.AllowedRegions)
	m.StartsAt, m.EndedAt, m.CreatedAt = fromNullMillis(startsAt), fromNullMillis(endedAt), fromMillis(created)
	m.StartedAt = fromNullMillis(startedAt)
	m.Recurrence = recurrence.String
	m.WaitingRoom, m.JoinBeforeHost, m.RequireSignIn, m.Locked = waiting == 1, early == 1, signIn == 1, locked == 1
	return m, err
}

// GetMeeting returns a meeting by id.
func (s *Store) GetMeeting(ctx context.Context, id string) (Meeting, error) {
	m, err := scanMeeting(s.db.QueryRowContext(ctx, `SELECT `+meetingColumns+` FROM meetings WHERE id = $1`, id))
	if err != nil {
		return Meeting{}, fail("get meeting", err)
	}
	return m, nil
}

// DefaultListLimit and MaxListLimit bound the rows one List call returns.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

func listLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultListLimit
	case n > MaxListLimit:
		return MaxListLimit
	}
	return n
}

// ListMeetingsByAccount returns an account's meetings, newest first, at most limit of them
// (DefaultListLimit if limit <= 0, never more than MaxListLimit).
func (s *Store) ListMeetingsByAccount(ctx context.Context, accountID string, limit int) ([]Meeting, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+meetingColumns+` FROM meetings
		WHERE account_id = $1 ORDER BY created_at DESC, id LIMIT $2`, accountID, listLimit(limit))
	if err != nil {
		return nil, fail("list meetings", err)
	}
	defer rows.Close()
	var ms []Meeting
	for rows.Next() {
		m, err := scanMeeting(rows)
		if err != nil {
			return nil, fail("list meetings", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list meetings", err)
	}
	return ms, nil
}

// UpdateMeetingStatus sets a meeting's status at a time: going live records at as
// StartedAt, ending or cancelling records it as EndedAt; any other status clears EndedAt.
// Which transitions are allowed is the caller's rule.
func (s *Store) UpdateMeetingStatus(ctx context.Context, id, status string, at time.Time) error {
	var res sql.Result
	var err error
	switch status {
	case MeetingEnded, MeetingCancelled:
		res, err = s.db.ExecContext(ctx, `UPDATE meetings SET status = $1, ended_at = $2 WHERE id = $3`,
			status, nullMillis(stamp(at)), id)
	case MeetingLive:
		res, err = s.db.ExecContext(ctx, `UPDATE meetings SET status = $1, started_at = $2, ended_at = NULL WHERE id = $3`,
			status, nullMillis(stamp(at)), id)
	default:
		res, err = s.db.ExecContext(ctx, `UPDATE meetings SET status = $1, ended_at = NULL WHERE id = $2`, status, id)
	}
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fail("update meeting status", err)
	}
	return nil
}

// UpdateMeetingPlan sets what the host planned of a meeting: its topic, kind, start,
// duration, time zone, recurrence, passcode and settings (waiting room, join before
// host, sign-in). Its owner, id, secrets but the passcode, lock and status stay.
func (s *Store) UpdateMeetingPlan(ctx context.Context, m Meeting) error {
	res, err := s.db.ExecContext(ctx, `UPDATE meetings SET topic = $1, kind = $2, starts_at = $3,
		duration_minutes = $4, time_zone = $5, recurrence = $6, passcode = $7, waiting_room = $8,
		join_before_host = $9, require_sign_in = $10 WHERE id = $11`,
		m.Topic, m.Kind, nullMillis(trunc(m.StartsAt)), m.DurationMinutes, m.TimeZone, nullString(m.Recurrence),
		m.Passcode, boolInt(m.WaitingRoom), boolInt(m.JoinBeforeHost), boolInt(m.RequireSignIn), m.ID)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fail("update meeting", err)
	}
	return nil
}

// SetMeetingLocked locks a meeting against new participants, or unlocks it.
func (s *Store) SetMeetingLocked(ctx context.Context, id string, locked bool) error {
	res, err := s.db.ExecContext(ctx, `UPDATE meetings SET locked = $1 WHERE id = $2`, boolInt(locked), id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fail("lock meeting", err)
	}
	return nil
}

// AddRemoval records that identity was removed from a meeting and may not rejoin it.
// Removing someone twice is not an error and keeps the first time.
func (s *Store) AddRemoval(ctx context.Context, meetingID, identity string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO meeting_removals (meeting_id, identity, region, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (meeting_id, identity) DO NOTHING`,
		meetingID, identity, s.region, millis(stamp(at)))
	if err != nil {
		return fail("add removal", err)
	}
	return nil
}

// IsRemoved reports whether identity was removed from the meeting.
func (s *Store) IsRemoved(ctx context.Context, meetingID, identity string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM meeting_removals WHERE meeting_id = $1 AND identity = $2`,
		meetingID, identity).Scan(&n)
	if err != nil {
		return false, fail("is removed", err)
	}
	return n > 0, nil
}
