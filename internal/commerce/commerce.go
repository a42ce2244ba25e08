// Package commerce sells Meridian: sales channels (direct, OEM partners, resellers), price
// books per channel and currency, and checkout of a new subscription, an upgrade or a
// renewal, with its order, invoice and payment. Whether a sale may happen is the
// jurisdiction policy's decision (policy.Buy, Upgrade, Renew) at that moment, with the
// billing country, channel and whether it is online self-service as facts; a refusal is
// returned with the policy's Decision. Payment goes through a PaymentProvider.
//
// Every account belongs to exactly one channel: its store.Account.Channel is "direct" or
// a partner's id. The policy's partner list is the authority for which partners are
// authorized where; commerce's partner records (store.Partner, by the same id) hold the
// brand, support contacts and, through its price book, the prices. The customers of a
// reseller or OEM partner are billed by it (its invoices name it as the seller) and get
// first-line support from it. A partner sees only its own customers (see PartnerScope).
// An OEM partner's brand (name, logo, colours, domain) is its customers' in mail and links,
// and everybody's on its domain (see Brand, BrandForHost, AccountBrand).
//
// Money is int64 minor units of an ISO 4217 currency, never a float. Orders, invoices and
// subscriptions are stored in the account's home region: the store this Service is given.
package commerce

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/store"
)

// Channel is who sells to an account: Kind is store.ChannelDirect, store.PartnerOEM or
// store.PartnerReseller; Partner is set for the latter two.
type Channel struct {
	Kind    string
	Partner *store.Partner
}

// ID is the channel as accounts.channel and price books name it: "direct" or the
// partner's id.
func (c Channel) ID() string {
	if c.Partner == nil {
		return store.ChannelDirect
	}
	return c.Partner.ID
}

// Support is the support contact shown to an account: who gives it first-line support.
type Support struct {
	// Channel is "direct" for the operator's own support, or the partner's id.
	Channel string
	Name    string
	store.SupportContact
}

// Seller is who sells: the operator, or the partner of the channel.
func (s *Service) seller(c Channel) Support {
	if c.Partner == nil {
		return Support{Channel: store.ChannelDirect, Name: s.operator.Name, SupportContact: s.operator.SupportContact}
	}
	name := c.Partner.Brand.Name
	if name == "" {
		name = c.Partner.Name
	}
	return Support{Channel: c.Partner.ID, Name: name, SupportContact: c.Partner.Support}
}

// String says the contact on one line, for an invoice.
func (s Support) String() string {
	var parts []string
	for _, v := range []string{s.Email, s.URL, s.Phone} {
		if v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, ", ")
}

// channelOf resolves an account's channel. An account whose channel names no partner
// record is an error, not direct: selling to it on the operator's terms would be wrong.
func (s *Service) channelOf(ctx context.Context, a store.Account) (Channel, error) {
	if a.Channel == "" || a.Channel == store.ChannelDirect {
		return Channel{Kind: store.ChannelDirect}, nil
	}
	p, err := s.store.GetPartner(ctx, a.Channel)
	if err != nil {
		return Channel{}, fmt.Errorf("commerce: channel %q of account %s: %w", a.Channel, a.ID, err)
	}
	return Channel{Kind: p.Kind, Partner: &p}, nil
}

// SupportContact is the support contact shown to an account: its reseller's or partner's
// if it has one, the operator's otherwise.
func (s *Service) SupportContact(ctx context.Context, a store.Account) (Support, error) {
	c, err := s.channelOf(ctx, a)
	if err != nil {
		return Support{}, err
	}
	return s.seller(c), nil
}

// PriceBook is what a channel charges in one currency.
type PriceBook struct {
	Channel  string
	Currency string
	Prices   []store.Price
}

// Price returns a plan's price for an interval, or ErrNoPrice saying which book lacks it.
func (b PriceBook) Price(plan, interval string) (store.Price, error) {
	for _, p := range b.Prices {
		if p.Plan == plan && p.Interval == interval {
			return p, nil
		}
	}
	return store.Price{}, &Error{Code: CodeNoPrice, Message: fmt.Sprintf(
		"the plan %q has no %sly price in the %s price book of channel %s", plan, interval, b.Currency, b.Channel)}
}

// PriceBook returns the price book of a channel in a currency. A channel without one in
// that currency is ErrNoPrice: a reseller sells at its own prices or not at all, never at
// another channel's.
func (s *Service) PriceBook(ctx context.Context, channel, currency string) (PriceBook, error) {
	if !isCurrency(currency) {
		return PriceBook{}, invalid("currency must be an ISO 4217 code of three capital letters, e.g. USD")
	}
	b, err := s.store.GetPriceBook(ctx, channel, currency)
	if errors.Is(err, store.ErrNotFound) {
		return PriceBook{}, &Error{Code: CodeNoPrice, Message: fmt.Sprintf("channel %s has no price book in %s", channel, currency)}
	}
	if err != nil {
		return PriceBook{}, fmt.Errorf("commerce: %w", err)
	}
	return PriceBook{Channel: b.Channel, Currency: b.Currency, Prices: b.Prices}, nil
}

// PlansFor returns the price book an account is sold from: its channel's, in currency.
func (s *Service) PlansFor(ctx context.Context, a store.Account, currency string) (PriceBook, error) {
	c, err := s.channelOf(ctx, a)
	if err != nil {
		return PriceBook{}, err
	}
	return s.PriceBook(ctx, c.ID(), currency)
}

// PutPriceBook checks and stores a channel's price book in a currency (replacing it).
func (s *Service) PutPriceBook(ctx context.Context, b PriceBook) error {
	if !isCurrency(b.Currency) {
		return invalid("currency must be an ISO 4217 code of three capital letters, e.g. USD")
	}
	if b.Channel != store.ChannelDirect {
		if _, err := s.store.GetPartner(ctx, b.Channel); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return invalid(fmt.Sprintf("no partner %q: a price book belongs to direct or a partner", b.Channel))
			}
			return fmt.Errorf("commerce: %w", err)
		}
	}
	seen := map[[2]string]bool{}
	for _, p := range b.Prices {
		switch {
		case rank(p.Plan) <= 0:
			return invalid(fmt.Sprintf("plan %q cannot be sold (plans: pro, business, enterprise)", p.Plan))
		case p.Interval != store.IntervalMonth && p.Interval != store.IntervalYear:
			return invalid(fmt.Sprintf("interval %q: month or year", p.Interval))
		case p.AmountMinor < 0:
			return invalid("a price cannot be negative")
		case seen[[2]string{p.Plan, p.Interval}]:
			return invalid(fmt.Sprintf("plan %q has two %sly prices", p.Plan, p.Interval))
		}
		seen[[2]string{p.Plan, p.Interval}] = true
	}
	_, err := s.store.PutPriceBook(ctx, store.PriceBook{Channel: b.Channel, Currency: b.Currency, Prices: b.Prices, UpdatedAt: s.now()})
	if err != nil {
		return fmt.Errorf("commerce: %w", err)
	}
	return nil
}

// rank orders the plans by size: 0 for free (not sold), -1 for an unknown plan.
func rank(plan string) int {
	switch account.Plan(plan) {
	case account.Free:
		return 0
	case account.Pro:
		return 1
	case account.Business:
		return 2
	case account.Enterprise:
		return 3
	}
	return -1
}

func isCurrency(c string) bool { return isUpper(c, 3) }

func isCountry(c string) bool { return isUpper(c, 2) }

func isUpper(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
