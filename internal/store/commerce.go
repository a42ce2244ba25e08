package store

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// Channels and the kinds of partner. An account's Channel is ChannelDirect or the id of
// a Partner.
const (
	ChannelDirect   = "direct"
	PartnerOEM      = "oem"
	PartnerReseller = "reseller"
)

// Partner is an OEM partner or a reseller as the sales side knows it: brand, support
// contacts and the jurisdictions it serves. Which partners are authorized where is the
// jurisdiction policy's word; this row is referenced by the same id.
type Partner struct {
	ID     string
	Region string // the store's region if empty
	Kind   string // PartnerOEM or PartnerReseller
	Name   string
	Brand  Brand
	// Support is where the partner's customers get first-line support.
	Support       SupportContact
	Jurisdictions []string
	CreatedAt     time.Time // now if zero
	UpdatedAt     time.Time // now if zero
}

// Brand is how a partner's product looks.
type Brand struct {
	Name         string
	LogoURL      string
	PrimaryColor string
	AccentColor  string
	Domain       string
}

// SupportContact is how people reach support.
type SupportContact struct {
	Email string
	URL   string
	Phone string
}

// PutPartner creates a partner or replaces the one with its id (CreatedAt stays).
func (s *Store) PutPartner(ctx context.Context, p Partner) (Partner, error) {
	region, err := s.regionOf(p.Region)
	if err != nil {
		return Partner{}, fail("put partner", err)
	}
	p.Region, p.CreatedAt, p.UpdatedAt = region, stamp(p.CreatedAt), stamp(p.UpdatedAt)
	_, err = s.db.ExecContext(ctx, `INSERT INTO partners (id, region, kind, name, brand_name, logo_url,
		primary_color, accent_color, domain, support_email, support_url, support_phone, jurisdictions,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name,
		brand_name = excluded.brand_name, logo_url = excluded.logo_url,
		primary_color = excluded.primary_color, accent_color = excluded.accent_color,
		domain = excluded.domain, support_email = excluded.support_email,
		support_url = excluded.support_url, support_phone = excluded.support_phone,
		jurisdictions = excluded.jurisdictions, updated_at = excluded.updated_at`,
		p.ID, p.Region, p.Kind, p.Name, p.Brand.Name, p.Brand.LogoURL, p.Brand.PrimaryColor,
		p.Brand.AccentColor, p.Brand.Domain, p.Support.Email, p.Support.URL, p.Support.Phone,
		strings.Join(p.Jurisdictions, " "), millis(p.CreatedAt), millis(p.UpdatedAt))
	if err != nil {
		return Partner{}, fail("put partner", err)
	}
	return s.GetPartner(ctx, p.ID)
}

const partnerColumns = `id, region, kind, name, brand_name, logo_url, primary_color, accent_color, domain,
	support_email, support_url, support_phone, jurisdictions, created_at, updated_at`

func scanPartner(row rowScanner) (Partner, error) {
	var p Partner
	var jur string
	var created, updated int64
	err := row.Scan(&p.ID, &p.Region, &p.Kind, &p.Name, &p.Brand.Name, &p.Brand.LogoURL, &p.Brand.PrimaryColor,
		&p.Brand.AccentColor, &p.Brand.Domain, &p.Support.Email, &p.Support.URL, &p.Support.Phone, &jur,
		&created, &updated)
	p.Jurisdictions = strings.Fields(jur)
	p.CreatedAt, p.UpdatedAt = fromMillis(created), fromMillis(updated)
	return p, err
}

// GetPartner returns a partner by id.
func (s *Store) GetPartner(ctx context.Context, id string) (Partner, error) {
	p, err := scanPartner(s.db.QueryRowContext(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = $1`, id))
	if err != nil {
		return Partner{}, fail("get partner", err)
	}
	return p, nil
}

// ListPartners returns every partner, by id.
func (s *Store) ListPartners(ctx context.Context) ([]Partner, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+partnerColumns+` FROM partners ORDER BY id`)
	if err != nil {
		return nil, fail("list partners", err)
	}
	defer rows.Close()
	var out []Partner
	for rows.Next() {
		p, err := scanPartner(rows)
		if err != nil {
			return nil, fail("list partners", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list partners", err)
	}
	return out, nil
}

// Billing intervals.
const (
	IntervalMonth = "month"
	IntervalYear  = "year"
)

// PriceBook is what a channel charges in one currency.
type PriceBook struct {
	ID       string // generated if empty; kept when a book of the channel and currency exists
	Region   string // the store's region if empty
	Channel  string // ChannelDirect or a partner id
	Currency string // ISO 4217, e.g. "EUR"
	Prices   []Price
	// UpdatedAt is now if zero.
	UpdatedAt time.Time
}

// Price is a plan's price for one interval, in the currency's minor units (cents).
type Price struct {
	Plan        string
	Interval    string // IntervalMonth or IntervalYear
	AmountMinor int64
}

// PutPriceBook stores the price book of a channel and currency, replacing its prices in
// one transaction: a reader sees the old book or the new one, never half of each.
func (s *Store) PutPriceBook(ctx context.Context, b PriceBook) (PriceBook, error) {
	region, err := s.regionOf(b.Region)
	if err != nil {
		return PriceBook{}, fail("put price book", err)
	}
	b.Region, b.UpdatedAt = region, stamp(b.UpdatedAt)
	if b.ID == "" {
		b.ID = newID()
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO price_books (id, region, channel, currency, updated_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (channel, currency) DO UPDATE SET updated_at = excluded.updated_at
			RETURNING id`, b.ID, b.Region, b.Channel, b.Currency, millis(b.UpdatedAt)).Scan(&b.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM prices WHERE book_id = $1`, b.ID); err != nil {
			return err
		}
		for _, p := range b.Prices {
			if _, err := tx.ExecContext(ctx, `INSERT INTO prices (book_id, region, plan, billing_interval, amount_minor)
				VALUES ($1, $2, $3, $4, $5)`, b.ID, b.Region, p.Plan, p.Interval, p.AmountMinor); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return PriceBook{}, fail("put price book", err)
	}
	return b, nil
}

// GetPriceBook returns the price book of a channel in a currency, its prices by plan and
// interval; ErrNotFound when the channel has none in that currency.
func (s *Store) GetPriceBook(ctx context.Context, channel, currency string) (PriceBook, error) {
	b := PriceBook{Channel: channel, Currency: currency}
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT id, region, updated_at FROM price_books
		WHERE channel = $1 AND currency = $2`, channel, currency).Scan(&b.ID, &b.Region, &updated)
	if err != nil {
		return PriceBook{}, fail("get price book", err)
	}
	b.UpdatedAt = fromMillis(updated)
	rows, err := s.db.QueryContext(ctx, `SELECT plan, billing_interval, amount_minor FROM prices
		WHERE book_id = $1 ORDER BY amount_minor, plan, billing_interval`, b.ID)
	if err != nil {
		return PriceBook{}, fail("get price book", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Price
		if err := rows.Scan(&p.Plan, &p.Interval, &p.AmountMinor); err != nil {
			return PriceBook{}, fail("get price book", err)
		}
		b.Prices = append(b.Prices, p)
	}
	if err := rows.Err(); err != nil {
		return PriceBook{}, fail("get price book", err)
	}
	return b, nil
}

// GetAccountInChannel returns an account by id only if it belongs to channel: an account
// of another channel is ErrNotFound, as one that does not exist, so that a partner cannot
// tell another partner's customers from ids nobody has.
func (s *Store) GetAccountInChannel(ctx context.Context, channel, id string) (Account, error) {
	var a Account
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, region, type, name, plan, channel, country, billing_country, created_at
		FROM accounts WHERE channel = $1 AND id = $2`, channel, id).
		Scan(&a.ID, &a.Region, &a.Type, &a.Name, &a.Plan, &a.Channel, &a.Country, &a.BillingCountry, &created)
	if err != nil {
		return Account{}, fail("get account in channel", err)
	}
	a.CreatedAt = fromMillis(created)
	return a, nil
}

// ListAccountsInChannel returns up to limit accounts of a channel, newest first.
func (s *Store) ListAccountsInChannel(ctx context.Context, channel string, limit int) ([]Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, region, type, name, plan, channel, country, billing_country, created_at
		FROM accounts WHERE channel = $1 ORDER BY created_at DESC, id LIMIT $2`, channel, limit)
	if err != nil {
		return nil, fail("list accounts in channel", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var a Account
		var created int64
		if err := rows.Scan(&a.ID, &a.Region, &a.Type, &a.Name, &a.Plan, &a.Channel, &a.Country, &a.BillingCountry, &created); err != nil {
			return nil, fail("list accounts in channel", err)
		}
		a.CreatedAt = fromMillis(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list accounts in channel", err)
	}
	return out, nil
}
