package store

import (
	"context"
	"database/sql"
	"time"
)

// Subscription statuses.
const (
	SubscriptionActive    = "active"
	SubscriptionPastDue   = "past_due"
	SubscriptionCancelled = "cancelled" // runs to PeriodEnd, then expires
	SubscriptionExpired   = "expired"
)

// Subscription is an account's paid plan for a period. An account has at most one that is
// not expired: its current subscription.
type Subscription struct {
	ID             string // generated if empty
	AccountID      string
	Region         string // the store's region if empty
	Channel        string
	Plan           string
	Interval       string
	Currency       string
	AmountMinor    int64 // what one interval costs, as last charged in full
	BillingCountry string
	Status         string
	PeriodStart    time.Time
	PeriodEnd      time.Time // the renewal date
	CreatedAt      time.Time // now if zero
	UpdatedAt      time.Time // now if zero
}

// Order statuses.
const (
	OrderPending  = "pending"  // the charge is under way (or its process died: see Order)
	OrderPaid     = "paid"     // charged; its subscription and invoice are recorded
	OrderDeclined = "declined" // the payment provider declined the charge
	OrderFailed   = "failed"   // the charge could not be made; the same key may try again
)

// Order is one checkout, found again by its account and idempotency key.
type Order struct {
	ID             string // generated if empty
	AccountID      string
	Region         string // the store's region if empty
	IdempotencyKey string
	Kind           string // "new", "upgrade" or "renew"
	Channel        string
	Plan           string
	Interval       string
	Currency       string
	AmountMinor    int64
	BillingCountry string
	Status         string
	ChargeID       string
	DeclineCode    string
	SubscriptionID string
	CreatedAt      time.Time // now if zero
	UpdatedAt      time.Time // now if zero
}

// Invoice is the record of a paid order, naming who sold it.
type Invoice struct {
	ID             string // generated if empty
	AccountID      string
	OrderID        string
	Region         string // the store's region if empty
	SellerChannel  string
	SellerName     string
	SellerContact  string
	BuyerName      string
	BillingCountry string
	Description    string
	Currency       string
	AmountMinor    int64
	PeriodStart    time.Time
	PeriodEnd      time.Time
	IssuedAt       time.Time // now if zero
}

// CreateOrder records a checkout before it is charged. A second order with the same
// account and idempotency key is ErrConflict: the caller reads the first with
// GetOrderByKey instead of charging again. So is a pending order while another of the
// account is pending.
func (s *Store) CreateOrder(ctx context.Context, o Order) (Order, error) {
	region, err := s.regionOf(o.Region)
	if err != nil {
		return Order{}, fail("create order", err)
	}
	if o.ID == "" {
		o.ID = newID()
	}
	o.Region, o.CreatedAt = region, stamp(o.CreatedAt)
	o.UpdatedAt = o.CreatedAt
	_, err = s.db.ExecContext(ctx, `INSERT INTO orders (id, account_id, region, idempotency_key, kind, channel,
		plan, billing_interval, currency, amount_minor, billing_country, status, charge_id, decline_code,
		subscription_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		o.ID, o.AccountID, o.Region, o.IdempotencyKey, o.Kind, o.Channel, o.Plan, o.Interval, o.Currency,
		o.AmountMinor, o.BillingCountry, o.Status, o.ChargeID, o.DeclineCode, o.SubscriptionID,
		millis(o.CreatedAt), millis(o.UpdatedAt))
	if err != nil {
		return Order{}, fail("create order", err)
	}
	return o, nil
}

const orderColumns = `id, account_id, region, idempotency_key, kind, channel, plan, billing_interval, currency,
	amount_minor, billing_country, status, charge_id, decline_code, subscription_id, created_at, updated_at`

func scanOrder(row rowScanner) (Order, error) {
	var o Order
	var created, updated int64
	err := row.Scan(&o.ID, &o.AccountID, &o.Region, &o.IdempotencyKey, &o.Kind, &o.Channel, &o.Plan, &o.Interval,
		&o.Currency, &o.AmountMinor, &o.BillingCountry, &o.Status, &o.ChargeID, &o.DeclineCode, &o.SubscriptionID,
		&created, &updated)
	o.CreatedAt, o.UpdatedAt = fromMillis(created), fromMillis(updated)
	return o, err
}

// GetOrderByKey returns the order of an account with an idempotency key.
func (s *Store) GetOrderByKey(ctx context.Context, accountID, key string) (Order, error) {
	o, err := scanOrder(s.db.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders
		WHERE account_id = $1 AND idempotency_key = $2`, accountID, key))
	if err != nil {
		return Order{}, fail("get order", err)
	}
	return o, nil
}

// ListOrders returns up to limit orders of an account, newest first.
func (s *Store) ListOrders(ctx context.Context, accountID string, limit int) ([]Order, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE account_id = $1
		ORDER BY created_at DESC, id LIMIT $2`, accountID, limit)
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

// ClaimOrder makes an order pending again to charge it once more: a failed one, or one
// pending since before staleBefore (its process died mid-charge; the provider's
// idempotency key makes the second charge the first). ErrNotFound: the order is not
// claimable (paid, declined, or pending and fresh); ErrConflict: another order of the
// account is pending.
func (s *Store) ClaimOrder(ctx context.Context, id string, staleBefore, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE orders SET status = 'pending', updated_at = $1
		WHERE id = $2 AND (status = 'failed' OR (status = 'pending' AND updated_at < $3))`,
		millis(stamp(at)), id, millis(staleBefore))
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fail("claim order", err)
	}
	return nil
}

// SetOrderStatus records how a pending order's charge ended without paying for it:
// declined or failed, with the provider's charge id and decline code.
func (s *Store) SetOrderStatus(ctx context.Context, id, status, chargeID, declineCode string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE orders SET status = $1, charge_id = $2, decline_code = $3,
		updated_at = $4 WHERE id = $5 AND status = 'pending'`,
		status, chargeID, declineCode, millis(stamp(at)), id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fail("set order status", err)
	}
	return nil
}

// Payment is what a paid order records, in one transaction: the order is paid, the
// subscription inserted (new) or replaced (upgrade, renewal), the account's plan set to
// the subscription's, and the invoice issued. Either all of it is stored or none.
type Payment struct {
	OrderID      string
	ChargeID     string
	Subscription Subscription
	Invoice      Invoice
	At           time.Time
}

// RecordPayment stores a paid order (see Payment) and returns the subscription and
// invoice as stored. The order must be pending; an order paid already is ErrConflict, and
// a second current subscription of the account is ErrConflict too.
func (s *Store) RecordPayment(ctx context.Context, p Payment) (Subscription, Invoice, error) {
	region, err := s.regionOf(p.Subscription.Region)
	if err == nil {
		_, err = s.regionOf(p.Invoice.Region)
	}
	if err != nil {
		return Subscription{}, Invoice{}, fail("record payment", err)
	}
	at := stamp(p.At)
	sub, inv := p.Subscription, p.Invoice
	sub.Region, inv.Region = region, region
	if sub.ID == "" {
		sub.ID = newID()
	}
	if inv.ID == "" {
		inv.ID = newID()
	}
	sub.CreatedAt, sub.UpdatedAt = stamp(sub.CreatedAt), at
	sub.PeriodStart, sub.PeriodEnd = trunc(sub.PeriodStart), trunc(sub.PeriodEnd)
	inv.OrderID, inv.AccountID, inv.IssuedAt = p.OrderID, sub.AccountID, at
	inv.PeriodStart, inv.PeriodEnd = trunc(inv.PeriodStart), trunc(inv.PeriodEnd)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'paid', charge_id = $1, subscription_id = $2,
			decline_code = '', updated_at = $3 WHERE id = $4 AND status = 'pending'`,
			p.ChargeID, sub.ID, millis(at), p.OrderID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = ErrConflict
			}
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO subscriptions (id, account_id, region, channel, plan,
			billing_interval, currency, amount_minor, billing_country, status, period_start, period_end,
			created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (id) DO UPDATE SET plan = excluded.plan, billing_interval = excluded.billing_interval,
			currency = excluded.currency, amount_minor = excluded.amount_minor,
			billing_country = excluded.billing_country, status = excluded.status,
			period_start = excluded.period_start, period_end = excluded.period_end,
			updated_at = excluded.updated_at`,
			sub.ID, sub.AccountID, sub.Region, sub.Channel, sub.Plan, sub.Interval, sub.Currency, sub.AmountMinor,
			sub.BillingCountry, sub.Status, millis(sub.PeriodStart), millis(sub.PeriodEnd),
			millis(sub.CreatedAt), millis(sub.UpdatedAt))
		if err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE accounts SET plan = $1 WHERE id = $2`, sub.Plan, sub.AccountID)
		if err == nil {
			err = affectedOne(res)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO invoices (id, account_id, order_id, region, seller_channel,
			seller_name, seller_contact, buyer_name, billing_country, description, currency, amount_minor,
			period_start, period_end, issued_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			inv.ID, inv.AccountID, inv.OrderID, inv.Region, inv.SellerChannel, inv.SellerName, inv.SellerContact,
			inv.BuyerName, inv.BillingCountry, inv.Description, inv.Currency, inv.AmountMinor,
			millis(inv.PeriodStart), millis(inv.PeriodEnd), millis(inv.IssuedAt))
		return err
	})
	if err != nil {
		return Subscription{}, Invoice{}, fail("record payment", err)
	}
	return sub, inv, nil
}

const subscriptionColumns = `s.id, s.account_id, s.region, s.channel, s.plan, s.billing_interval, s.currency,
	s.amount_minor, s.billing_country, s.status, s.period_start, s.period_end, s.created_at, s.updated_at`

func scanSubscription(row rowScanner) (Subscription, error) {
	var x Subscription
	var start, end, created, updated int64
	err := row.Scan(&x.ID, &x.AccountID, &x.Region, &x.Channel, &x.Plan, &x.Interval, &x.Currency, &x.AmountMinor,
		&x.BillingCountry, &x.Status, &start, &end, &created, &updated)
	x.PeriodStart, x.PeriodEnd = fromMillis(start), fromMillis(end)
	x.CreatedAt, x.UpdatedAt = fromMillis(created), fromMillis(updated)
	return x, err
}

// GetCurrentSubscription returns an account's subscription that has not expired.
func (s *Store) GetCurrentSubscription(ctx context.Context, accountID string) (Subscription, error) {
	x, err := scanSubscription(s.db.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s
		WHERE s.account_id = $1 AND s.status <> 'expired'`, accountID))
	if err != nil {
		return Subscription{}, fail("get subscription", err)
	}
	return x, nil
}

// ListSubscriptionsInChannel returns up to limit current subscriptions of the accounts of
// a channel (by the account's channel, the authority), newest first.
func (s *Store) ListSubscriptionsInChannel(ctx context.Context, channel string, limit int) ([]Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s
		JOIN accounts a ON a.id = s.account_id
		WHERE a.channel = $1 AND s.status <> 'expired' ORDER BY s.created_at DESC, s.id LIMIT $2`, channel, limit)
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

// SetSubscriptionStatus changes a current subscription's status (past_due, cancelled).
// Expiring is ExpireSubscriptions', which also takes the plan away.
func (s *Store) SetSubscriptionStatus(ctx context.Context, id, status string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE subscriptions SET status = $1, updated_at = $2
		WHERE id = $3 AND status <> 'expired'`, status, millis(stamp(at)), id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fail("set subscription status", err)
	}
	return nil
}

// ExpireSubscriptions expires every current subscription whose period ended at or before
// now and puts its account back on the free plan, each in one transaction. It returns the
// subscriptions it expired.
func (s *Store) ExpireSubscriptions(ctx context.Context, now time.Time, limit int) ([]Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s
		WHERE s.status <> 'expired' AND s.period_end <= $1 ORDER BY s.period_end, s.id LIMIT $2`, millis(now), limit)
	if err != nil {
		return nil, fail("expire subscriptions", err)
	}
	var due []Subscription
	for rows.Next() {
		x, err := scanSubscription(rows)
		if err != nil {
			rows.Close()
			return nil, fail("expire subscriptions", err)
		}
		due = append(due, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail("expire subscriptions", err)
	}
	var done []Subscription
	for _, x := range due {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			// The period is checked again: a renewal between the read and here moved it.
			res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET status = 'expired', updated_at = $1
				WHERE id = $2 AND status <> 'expired' AND period_end <= $3`, millis(stamp(now)), x.ID, millis(now))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET plan = 'free' WHERE id = $1`, x.AccountID); err != nil {
				return err
			}
			x.Status = SubscriptionExpired
			done = append(done, x)
			return nil
		})
		if err != nil {
			return done, fail("expire subscriptions", err)
		}
	}
	return done, nil
}

const invoiceColumns = `id, account_id, order_id, region, seller_channel, seller_name, seller_contact, buyer_name,
	billing_country, description, currency, amount_minor, period_start, period_end, issued_at`

// ListInvoices returns up to limit invoices of an account, newest first.
func (s *Store) ListInvoices(ctx context.Context, accountID string, limit int) ([]Invoice, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE account_id = $1
		ORDER BY issued_at DESC, id LIMIT $2`, accountID, limit)
	if err != nil {
		return nil, fail("list invoices", err)
	}
	defer rows.Close()
	var out []Invoice
	for rows.Next() {
		var v Invoice
		var start, end, issued int64
		if err := rows.Scan(&v.ID, &v.AccountID, &v.OrderID, &v.Region, &v.SellerChannel, &v.SellerName,
			&v.SellerContact, &v.BuyerName, &v.BillingCountry, &v.Description, &v.Currency, &v.AmountMinor,
			&start, &end, &issued); err != nil {
			return nil, fail("list invoices", err)
		}
		v.PeriodStart, v.PeriodEnd, v.IssuedAt = fromMillis(start), fromMillis(end), fromMillis(issued)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list invoices", err)
	}
	return out, nil
}
