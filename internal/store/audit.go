package store

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// AuditEntry is one line of the audit log: who did what to whom, when, and how it ended.
// The log is append-only: the store can add entries and read them, nothing else.
type AuditEntry struct {
	ID     string // generated if empty
	Region string // the store's region if empty
	At     time.Time
	// Actor is who acted (a user id, "apikey:<id>", "system").
	Actor string
	// Action is a stable name, e.g. "user.sign_in", "meeting.lock".
	Action string
	// Subject is what was acted on (an account, user or meeting id).
	Subject string
	// Outcome is a stable word, e.g. "ok", "denied", or a policy decision code.
	Outcome string
	// Detail is free text for people; it holds no secrets.
	Detail string
	// Count is how many times this happened: 1 for a decision (and when zero), more for
	// an entry that sums up repeated refusals (see package auditlog).
	Count int64
}

// AppendAudit adds an entry to the audit log and returns it as stored.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	region, err := s.regionOf(e.Region)
	if err != nil {
		return AuditEntry{}, fail("append audit", err)
	}
	if e.ID == "" {
		e.ID = newID()
	}
	if e.Count <= 0 {
		e.Count = 1
	}
	e.Region, e.At = region, stamp(e.At)
	_, err = s.db.ExecContext(ctx, `INSERT INTO audit_log (id, region, at, actor, action, subject, outcome, detail, count)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ID, e.Region, millis(e.At), e.Actor, e.Action, e.Subject, e.Outcome, e.Detail, e.Count)
	if err != nil {
		return AuditEntry{}, fail("append audit", err)
	}
	return e, nil
}

// AuditQuery selects audit entries; empty fields select everything.
type AuditQuery struct {
	Actor   string
	Subject string
	Since   time.Time // entries at or after this time
	Limit   int       // DefaultListLimit if <= 0, never more than MaxListLimit
}

// ListAudit returns the entries q selects, oldest first.
func (s *Store) ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	query, args := auditSQL(q)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fail("list audit", err)
	}
	defer rows.Close()
	var es []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.Region, &at, &e.Actor, &e.Action, &e.Subject, &e.Outcome, &e.Detail, &e.Count); err != nil {
			return nil, fail("list audit", err)
		}
		e.At = fromMillis(at)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list audit", err)
	}
	return es, nil
}

// auditSQL builds the query for q, with only the conditions it needs so that each can use
// its index.
func auditSQL(q AuditQuery) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if q.Actor != "" {
		add("actor =", q.Actor)
	}
	if q.Subject != "" {
		add("subject =", q.Subject)
	}
	if !q.Since.IsZero() {
		add("at >=", millis(q.Since))
	}
	query := `SELECT id, region, at, actor, action, subject, outcome, detail, count FROM audit_log`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, listLimit(q.Limit))
	return query + " ORDER BY at, id LIMIT $" + strconv.Itoa(len(args)), args
}
