package commerce

import (
	"context"
	"errors"
	"fmt"

	"github.com/meridian-video/meridian/internal/store"
)

// PartnerScope is what a partner (OEM or reseller) may see and change: its own customers,
// the accounts whose channel is its id, and nothing else. Every query it makes is scoped
// by that channel in the store, so that an id of another partner's customer is
// ErrNotFound, exactly as an id nobody has: no answer tells the two apart.
type PartnerScope struct {
	s       *Service
	partner store.Partner
}

// ForPartner returns the scope of the partner with id; ErrNotFound if there is none.
// Authenticating the partner (its API keys) is the caller's.
func (s *Service) ForPartner(ctx context.Context, id string) (*PartnerScope, error) {
	p, err := s.store.GetPartner(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &Error{Code: CodeNotFound, Message: "no such partner"}
	}
	if err != nil {
		return nil, fmt.Errorf("commerce: %w", err)
	}
	return &PartnerScope{s: s, partner: p}, nil
}

// Partner is the scope's partner.
func (ps *PartnerScope) Partner() store.Partner { return ps.partner }

// actor names the partner in the audit trail.
func (ps *PartnerScope) actor() string { return "partner:" + ps.partner.ID }

// Account returns one of the partner's customers.
func (ps *PartnerScope) Account(ctx context.Context, id string) (store.Account, error) {
	a, err := ps.s.store.GetAccountInChannel(ctx, ps.partner.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, ErrNotFound
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("commerce: %w", err)
	}
	return a, nil
}

// Accounts lists the partner's customers, newest first (the latest 200).
func (ps *PartnerScope) Accounts(ctx context.Context) ([]store.Account, error) {
	as, err := ps.s.store.ListAccountsInChannel(ctx, ps.partner.ID, listLimit)
	if err != nil {
		return nil, fmt.Errorf("commerce: %w", err)
	}
	return as, nil
}

// Subscriptions lists the current subscriptions of the partner's customers.
func (ps *PartnerScope) Subscriptions(ctx context.Context) ([]store.Subscription, error) {
	subs, err := ps.s.store.ListSubscriptionsInChannel(ctx, ps.partner.ID, listLimit)
	if err != nil {
		return nil, fmt.Errorf("commerce: %w", err)
	}
	return subs, nil
}

// Subscription returns a customer's current subscription; ok is false when it has none.
func (ps *PartnerScope) Subscription(ctx context.Context, accountID string) (store.Subscription, bool, error) {
	a, err := ps.Account(ctx, accountID)
	if err != nil {
		return store.Subscription{}, false, err
	}
	return ps.s.Subscription(ctx, a)
}

// Invoices returns a customer's invoices.
func (ps *PartnerScope) Invoices(ctx context.Context, accountID string) ([]store.Invoice, error) {
	a, err := ps.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return ps.s.Invoices(ctx, a)
}

// Checkout sells to a customer as the partner: assisted, not online self-service, at the
// partner's prices, decided by the policy like any checkout.
func (ps *PartnerScope) Checkout(ctx context.Context, accountID string, in CheckoutInput) (Receipt, error) {
	a, err := ps.Account(ctx, accountID)
	if err != nil {
		return Receipt{}, err
	}
	in.Online = false
	return ps.s.Checkout(ctx, Buyer{Account: a, Actor: ps.actor()}, in)
}

// Cancel cancels a customer's subscription at its renewal date.
func (ps *PartnerScope) Cancel(ctx context.Context, accountID string) error {
	a, err := ps.Account(ctx, accountID)
	if err != nil {
		return err
	}
	return ps.s.Cancel(ctx, Buyer{Account: a, Actor: ps.actor()})
}
