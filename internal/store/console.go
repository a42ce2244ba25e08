package store

import (
	"context"
	"database/sql"
)

// The operators' console reads the sales records of this store's region across accounts:
// every price book, and the newest subscriptions and orders, of one channel or all.

// ListPriceBooks returns every price book with its prices, by channel and currency.
func (s *Store) ListPriceBooks(ctx context.Context) ([]PriceBook, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT b.id, b.region, b.channel, b.currency, b.updated_at,
		p.plan, p.billing_interval, p.amount_minor
		FROM price_books b LEFT JOIN prices p ON p.book_id = b.id
		ORDER BY b.channel, b.currency, p.amount_minor, p.plan, p.billing_interval`)
	if err != nil {
		return nil, fail("list price books", err)
	}
	defer rows.Close()
	var out []PriceBook
	for rows.Next() {
		var b PriceBook
		var updated int64
		var plan, interval sql.NullString
		var amount sql.NullInt64
		if err := rows.Scan(&b.ID, &b.Region, &b.Channel, &b.Currency, &updated, &plan, &interval, &amount); err != nil {
			return nil, fail("list price books", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != b.ID {
			b.UpdatedAt = fromMillis(updated)
			out = append(out, b)
		}
		if plan.Valid {
			last := &out[len(out)-1]
			last.Prices = append(last.Prices, Price{Plan: plan.String, Interval: interval.String, AmountMinor: amount.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list price books", err)
	}
	return out, nil
}

// ListSubscriptions returns up to limit subscriptions, expired ones included, newest
// first: those sold through channel, or all when channel is empty. The channel is the
// subscription's own, the one that sold it.
func (s *Store) ListSubscriptions(ctx context.Context, channel string, limit int) ([]Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s
		WHERE $1 = '' OR s.channel = $1 ORDER BY s.created_at DESC, s.id LIMIT $2`, channel, limit)
	if err != nil {
		return nil, fail("list subscriptions", err)
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		x, err := scanSubscription(rows)
		if err != nil {
			return nil, fail("list subscriptions", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list subscriptions", err)
	}
	return out, nil
}

// ListChannelOrders returns up to limit orders of every account, newest first: those of
// channel, or all when channel is empty.
func (s *Store) ListChannelOrders(ctx context.Context, channel string, limit int) ([]Order, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders
		WHERE $1 = '' OR channel = $1 ORDER BY created_at DESC, id LIMIT $2`, channel, limit)
	if err != nil {
		return nil, fail("list orders", err)
	}
	defer rows.Close()
	var out []Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fail("list orders", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list orders", err)
	}
	return out, nil
}
