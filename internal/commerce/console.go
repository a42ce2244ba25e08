package commerce

import (
	"context"
	"fmt"

	"github.com/meridian-video/meridian/internal/store"
)

// The operators' view of sales in this Service's region: every partner and price book,
// and the newest subscriptions and orders of a channel or of all. Who may see it is the
// caller's check (operators only).

// Partners lists every partner, by id.
func (s *Service) Partners(ctx context.Context) ([]store.Partner, error) {
	ps, err := s.store.ListPartners(ctx)
	if err != nil {
		return nil, fmt.Errorf("commerce: %w", err)
	}
	return ps, nil
}

// Partner returns one partner; ErrNotFound-like CodeNotFound if there is none.
func (s *Service) Partner(ctx context.Context, id string) (store.Partner, error) {
	ps, err := s.ForPartner(ctx, id)
	if err != nil {
		return store.Partner{}, err
	}
	return ps.Partner(), nil
}

// PriceBooks lists every price book, by channel and currency.
func (s *Service) PriceBooks(ctx context.Context) ([]PriceBook, error) {
	bs, err := s.store.ListPriceBooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("commerce: %w", err)
	}
	out := make([]PriceBook, 0, len(bs))
	for _, b := range bs {
		out = append(out, PriceBook{Channel: b.Channel, Currency: b.Currency, Prices: b.Prices})
	}
	return out, nil
}

// AllSubscriptions lists the newest subscriptions (the latest 200, expired ones too) sold
// through channel, or through any channel when it is empty.
func (s *Service) AllSubscriptions(ctx context.Context, channel string) ([]store.Subscription, error) {
	if err := checkChannelFilter(channel); err != nil {
		return nil, err
	}
	subs, err := s.store.ListSubscriptions(ctx, channel, listLimit)
	if err != nil {
		return nil, fmt.Errorf("commerce: %w", err)
	}
	return subs, nil
}

// AllOrders lists the newest orders (the latest 200) of channel, or of any channel when
// it is empty.
func (s *Service) AllOrders(ctx context.Context, channel string) ([]store.Order, error) {
	if err := checkChannelFilter(channel); err != nil {
		return nil, err
	}
	orders, err := s.store.ListChannelOrders(ctx, channel, listLimit)
	if err != nil {
		return nil, fmt.Errorf("commerce: %w", err)
	}
	return orders, nil
}

func checkChannelFilter(channel string) error {
	if channel != "" && !isSlug(channel) {
		return invalid("a channel is \"direct\" or a partner's id (lower-case letters, digits and dashes)")
	}
	return nil
}
