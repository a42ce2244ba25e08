package commerce

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"

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

// PutPartner checks and stores a partner's record (creating or replacing it): its id,
// kind and name, https URLs, #rrggbb colours and a support contact. Which jurisdictions
// the partner may sell in is the policy's word; a record whose kind differs from the
// running policy's partner of the same id is refused, since every sale through it would
// be.
func (s *Service) PutPartner(ctx context.Context, p store.Partner) error {
	// Host names compare without case: the domain is kept lower-case, as hosts are
	// looked up.
	p.Brand.Domain = strings.TrimSuffix(strings.ToLower(p.Brand.Domain), ".")
	if err := checkPartner(p); err != nil {
		return err
	}
	// A server with no policy (no policy_file) has no partner list to contradict.
	if pol := s.policy.Policy(); pol != nil {
		if pp, ok := pol.Partner(p.ID); ok && pp.Kind != p.Kind {
			return invalid(fmt.Sprintf("partner %q is a %s in the jurisdiction policy (version %s), not a %s", p.ID, pp.Kind,
				pol.Version, p.Kind))
		}
	}
	p.UpdatedAt = s.now()
	_, err := s.store.PutPartner(ctx, p)
	if errors.Is(err, store.ErrConflict) { // the only unique value besides the id
		return invalid(fmt.Sprintf("the domain %s is another partner's brand domain", p.Brand.Domain))
	}
	if err != nil {
		return fmt.Errorf("commerce: %w", err)
	}
	s.forgetBrands()
	return nil
}

func checkPartner(p store.Partner) error {
	switch {
	case !isSlug(p.ID) || p.ID == store.ChannelDirect:
		return invalid("a partner id is 2 to 64 lower-case letters, digits and dashes, and not \"direct\"")
	case p.Kind != store.PartnerOEM && p.Kind != store.PartnerReseller:
		return invalid("a partner's kind is oem or reseller")
	case p.Name == "" || len(p.Name) > 200:
		return invalid("a partner needs a name of at most 200 bytes")
	case p.Support.Email == "" && p.Support.URL == "" && p.Support.Phone == "":
		return invalid("a partner needs a support contact (email, URL or phone): its customers' first-line support is its")
	}
	for what, u := range map[string]string{"logo URL": p.Brand.LogoURL, "support URL": p.Support.URL} {
		if pu, err := url.Parse(u); u != "" && (err != nil || pu.Scheme != "https" || pu.Host == "") {
			return invalid(fmt.Sprintf("the %s must be an https URL", what))
		}
	}
	for what, c := range map[string]string{"primary colour": p.Brand.PrimaryColor, "accent colour": p.Brand.AccentColor} {
		if c != "" && !isColor(c) {
			return invalid(fmt.Sprintf("the %s must be #rrggbb", what))
		}
	}
	if p.Support.Email != "" {
		if _, err := mail.ParseAddress(p.Support.Email); err != nil {
			return invalid("the support email is not an email address")
		}
	}
	if d := p.Brand.Domain; d != "" && !isDomain(d) {
		return invalid("the brand's domain is a host name, like meet.example.com")
	}
	return nil
}

// isDomain tells whether d is a lower-case DNS name of two labels or more: letters,
// digits and dashes, since it goes into links and is compared with Host headers.
func isDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}

func isSlug(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

func isColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, r := range s[1:] {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') && (r < 'A' || r > 'F') {
			return false
		}
	}
	return true
}
