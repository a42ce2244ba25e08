package commerce

import (
	"context"
	"errors"
	"fmt"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/store"
)

// Subscription returns an account's current subscription (not expired); ok is false when
// it has none.
func (s *Service) Subscription(ctx context.Context, a store.Account) (sub store.Subscription, ok bool, err error) {
	sub, err = s.store.GetCurrentSubscription(ctx, a.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Subscription{}, false, nil
	case err != nil:
		return store.Subscription{}, false, fmt.Errorf("commerce: %w", err)
	}
	return sub, true, nil
}

// Invoices returns an account's invoices, newest first (the latest 200).
func (s *Service) Invoices(ctx context.Context, a store.Account) ([]store.Invoice, error) {
	inv, err := s.store.ListInvoices(ctx, a.ID, listLimit)
	if err != nil {
		return nil, fmt.Errorf("commerce: %w", err)
	}
	return inv, nil
}

// Cancel cancels b's account's subscription at its renewal date: it stays in force (and
// paid for) until then, and is not renewed. A member may not.
func (s *Service) Cancel(ctx context.Context, b Buyer) error {
	if b.Role == account.RoleMember {
		return ErrForbidden
	}
	sub, ok, err := s.Subscription(ctx, b.Account)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoSubscription
	}
	if err := s.store.SetSubscriptionStatus(ctx, sub.ID, store.SubscriptionCancelled, s.now()); err != nil {
		return fmt.Errorf("commerce: %w", err)
	}
	s.record(ctx, b.Actor, "commerce.cancel", b.Account.ID, "ok", "subscription="+sub.ID)
	return nil
}

// ExpireDue expires the subscriptions of this store whose period has ended unrenewed
// (active, past due or cancelled alike), returning their accounts to the free plan, and
// returns how many it expired. Existing subscriptions run to their renewal date whatever
// the policy says meanwhile; whether they continue is the Renew decision at checkout.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	done, err := s.store.ExpireSubscriptions(ctx, s.now(), listLimit)
	for _, x := range done {
		s.record(ctx, "system", "commerce.expire", x.AccountID, "ok", "subscription="+x.ID+" plan="+x.Plan)
	}
	if err != nil {
		return len(done), fmt.Errorf("commerce: %w", err)
	}
	return len(done), nil
}
