package store

import (
	"context"
	"database/sql"
	"time"
)

// ScheduledMeeting is a meeting yet to take place, by id, with its host account.
type ScheduledMeeting struct {
	ID, Region, AccountID string
	StartsAt              time.Time // zero for none
}

// ListAccountFacts returns every account with what the jurisdiction policy decides it by
// (id, region, type, plan, channel, countries) and without its name, in id order: a dry
// run reports ids and counts only.
func (s *Store) ListAccountFacts(ctx context.Context) ([]Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, region, type, plan, channel, country, billing_country
		FROM accounts ORDER BY id`)
	if err != nil {
		return nil, fail("list account facts", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Region, &a.Type, &a.Plan, &a.Channel, &a.Country, &a.BillingCountry); err != nil {
			return nil, fail("list account facts", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list account facts", err)
	}
	return out, nil
}

// ListScheduledMeetings returns the meetings whose status is scheduled, in id order.
func (s *Store) ListScheduledMeetings(ctx context.Context) ([]ScheduledMeeting, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, region, account_id, starts_at FROM meetings
		WHERE status = $1 ORDER BY id`, MeetingScheduled)
	if err != nil {
		return nil, fail("list scheduled meetings", err)
	}
	defer rows.Close()
	var out []ScheduledMeeting
	for rows.Next() {
		var m ScheduledMeeting
		var starts sql.NullInt64
		if err := rows.Scan(&m.ID, &m.Region, &m.AccountID, &starts); err != nil {
			return nil, fail("list scheduled meetings", err)
		}
		m.StartsAt = fromNullMillis(starts)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list scheduled meetings", err)
	}
	return out, nil
}

// ListCurrentSubscriptions returns every subscription that has not expired, in id order.
func (s *Store) ListCurrentSubscriptions(ctx context.Context) ([]Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s
		WHERE s.status <> 'expired' ORDER BY s.id`)
	if err != nil {
		return nil, fail("list current subscriptions", err)
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		x, err := scanSubscription(rows)
		if err != nil {
			return nil, fail("list current subscriptions", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list current subscriptions", err)
	}
	return out, nil
}
