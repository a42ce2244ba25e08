package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
)

// PolicyDecision is one row of the decision log: a jurisdiction policy decision with the
// facts it was made from (see package decisionlog). It holds no name or address: the
// subject is an opaque account or meeting id and the facts are countries, plan, type and
// channel.
type PolicyDecision struct {
	ID     string // generated if empty
	Region string // the store's region if empty
	At     time.Time
	// Question is the policy question's name ("register", "host", ...).
	Question string
	// Subject is the account or meeting id the decision was about, "" for a sign-up.
	Subject string
	// Facts is the decision's policy.Facts as JSON, "" for a row summing the decisions of
	// many facts (which cannot be replayed).
	Facts         string
	Allowed       bool
	Code          string
	RuleID        string
	Jurisdiction  string
	PolicyVersion string
	// Count is how many decisions the row stands for: 1 (and when zero), more for summed
	// repeats.
	Count int64
}

// MaxDecisionListLimit bounds the decisions one ListPolicyDecisions returns: a replay
// reads up to that many.
const MaxDecisionListLimit = 10_000

// AppendPolicyDecision adds a decision to the log and returns it as stored.
func (s *Store) AppendPolicyDecision(ctx context.Context, d PolicyDecision) (PolicyDecision, error) {
	ds := []PolicyDecision{d}
	if err := s.AppendPolicyDecisions(ctx, ds); err != nil {
		return PolicyDecision{}, err
	}
	return ds[0], nil
}

// AppendPolicyDecisions adds decisions to the log in one transaction (all or none), and
// sets their ids, regions and times as stored.
func (s *Store) AppendPolicyDecisions(ctx context.Context, ds []PolicyDecision) error {
	for i := range ds {
		d := &ds[i]
		region, err := s.regionOf(d.Region)
		if err != nil {
			return fail("append policy decision", err)
		}
		if d.ID == "" {
			d.ID = newID()
		}
		if d.Count <= 0 {
			d.Count = 1
		}
		d.Region, d.At = region, stamp(d.At)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			if _, err := tx.ExecContext(ctx, `INSERT INTO policy_decisions
				(id, region, at, question, subject, facts, allowed, code, rule_id, jurisdiction, policy_version, count)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				d.ID, d.Region, millis(d.At), d.Question, d.Subject, d.Facts, boolInt(d.Allowed), d.Code, d.RuleID,
				d.Jurisdiction, d.PolicyVersion, d.Count); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fail("append policy decision", err)
	}
	return nil
}

// Decision outcomes a DecisionQuery selects besides a code.
const (
	OutcomeAllowed = "allowed"
	OutcomeRefused = "refused"
)

// DecisionQuery selects decisions; empty fields select everything.
type DecisionQuery struct {
	RuleID       string
	Jurisdiction string
	// Outcome is OutcomeAllowed, OutcomeRefused (any code but allowed) or a decision code.
	Outcome string
	Since   time.Time // decisions at or after this time
	Limit   int       // DefaultListLimit if <= 0, never more than MaxDecisionListLimit
}

// ListPolicyDecisions returns the decisions q selects, newest first.
func (s *Store) ListPolicyDecisions(ctx context.Context, q DecisionQuery) ([]PolicyDecision, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if q.RuleID != "" {
		add("rule_id =", q.RuleID)
	}
	if q.Jurisdiction != "" {
		add("jurisdiction =", q.Jurisdiction)
	}
	switch q.Outcome {
	case "":
	case OutcomeAllowed:
		add("allowed =", 1)
	case OutcomeRefused:
		add("allowed =", 0)
	default:
		add("code =", q.Outcome)
	}
	if !q.Since.IsZero() {
		add("at >=", millis(q.Since))
	}
	query := `SELECT id, region, at, question, subject, facts, allowed, code, rule_id, jurisdiction, policy_version, count
		FROM policy_decisions`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = DefaultListLimit
	case limit > MaxDecisionListLimit:
		limit = MaxDecisionListLimit
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, query+" ORDER BY at DESC, id DESC LIMIT $"+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fail("list policy decisions", err)
	}
	defer rows.Close()
	var out []PolicyDecision
	for rows.Next() {
		var d PolicyDecision
		var at, allowed int64
		if err := rows.Scan(&d.ID, &d.Region, &at, &d.Question, &d.Subject, &d.Facts, &allowed, &d.Code, &d.RuleID,
			&d.Jurisdiction, &d.PolicyVersion, &d.Count); err != nil {
			return nil, fail("list policy decisions", err)
		}
		d.At, d.Allowed = fromMillis(at), allowed == 1
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list policy decisions", err)
	}
	return out, nil
}

// PrunePolicyDecisions deletes the decisions made before before, then all but the keep
// newest (keep <= 0 keeps every one left), and returns how many it deleted.
func (s *Store) PrunePolicyDecisions(ctx context.Context, before time.Time, keep int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM policy_decisions WHERE at < $1`, millis(before))
	if err != nil {
		return 0, fail("prune policy decisions", err)
	}
	n, _ := res.RowsAffected()
	if keep <= 0 {
		return n, nil
	}
	// The newest row past the ceiling, and every older one, go: one portable statement
	// each way (SQLite and PostgreSQL spell "LIMIT all" differently).
	var at int64
	var id string
	err = s.db.QueryRowContext(ctx, `SELECT at, id FROM policy_decisions ORDER BY at DESC, id DESC LIMIT 1 OFFSET $1`, keep).Scan(&at, &id)
	switch {
	case err == sql.ErrNoRows:
		return n, nil
	case err != nil:
		return n, fail("prune policy decisions", err)
	}
	res, err = s.db.ExecContext(ctx, `DELETE FROM policy_decisions WHERE at < $1 OR (at = $1 AND id <= $2)`, at, id)
	if err != nil {
		return n, fail("prune policy decisions", err)
	}
	m, _ := res.RowsAffected()
	return n + m, nil
}

// PolicyActivation is a policy version an operator activated, with its source.
type PolicyActivation struct {
	ID      string // generated if empty
	Region  string // the store's region if empty
	At      time.Time
	Actor   string
	Name    string // the file or request it came from
	Version string
	Source  []byte
}

// AppendPolicyActivation records an activation and returns it as stored.
func (s *Store) AppendPolicyActivation(ctx context.Context, a PolicyActivation) (PolicyActivation, error) {
	region, err := s.regionOf(a.Region)
	if err != nil {
		return PolicyActivation{}, fail("append policy activation", err)
	}
	if a.ID == "" {
		a.ID = newID()
	}
	a.Region, a.At = region, stamp(a.At)
	_, err = s.db.ExecContext(ctx, `INSERT INTO policy_activations (id, region, at, actor, name, version, source)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.ID, a.Region, millis(a.At), a.Actor, a.Name, a.Version, string(a.Source))
	if err != nil {
		return PolicyActivation{}, fail("append policy activation", err)
	}
	return a, nil
}

// LastPolicyActivation returns the newest activation, ErrNotFound if there was none.
func (s *Store) LastPolicyActivation(ctx context.Context) (PolicyActivation, error) {
	var a PolicyActivation
	var at int64
	var src string
	err := s.db.QueryRowContext(ctx, `SELECT id, region, at, actor, name, version, source FROM policy_activations
		ORDER BY at DESC, id DESC LIMIT 1`).Scan(&a.ID, &a.Region, &at, &a.Actor, &a.Name, &a.Version, &src)
	if err != nil {
		return PolicyActivation{}, fail("last policy activation", err)
	}
	a.At, a.Source = fromMillis(at), []byte(src)
	return a, nil
}
