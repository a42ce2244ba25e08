package account

import (
	"context"
	"net/url"

	"github.com/meridian-video/meridian/internal/store"
)

// defaultMailBrand names the product in mail when no Brander says otherwise.
const defaultMailBrand = "Meridian"

// MailBrand is the brand an account's mail goes out under: the product's name as its
// people know it, and the base URL (scheme and host, e.g. https://meet.partner.example)
// of the links in it; empty BaseURL keeps the server's own.
type MailBrand struct {
	Name    string
	BaseURL string
}

// Brander tells the brand of an account's mail: an OEM partner embeds the product under
// its own name and domain (commerce.Service is one).
type Brander interface {
	MailBrand(ctx context.Context, a store.Account) (MailBrand, error)
}

// mailBrand is the brand of the account's mail; the product's own when there is no
// Brander or it fails (logged): a reset mail under the operator's name still works, on
// the server's own URL.
func (s *Service) mailBrand(ctx context.Context, accountID string) MailBrand {
	def := MailBrand{Name: defaultMailBrand}
	if s.brander == nil {
		return def
	}
	a, err := s.store.GetAccount(ctx, accountID)
	if err != nil {
		s.log.WarnContext(ctx, "mail brand: reading the account; using the product's own", "account", accountID, "err", err)
		return def
	}
	b, err := s.brander.MailBrand(ctx, a)
	if err != nil {
		s.log.WarnContext(ctx, "mail brand: using the product's own", "account", accountID, "err", err)
		return def
	}
	if b.Name == "" {
		b.Name = defaultMailBrand
	}
	return b
}

// rebase points link at base's scheme and host (its path and query stay); link itself
// when base is empty or not an absolute URL.
func rebase(link url.URL, base string) url.URL {
	if base == "" {
		return link
	}
	b, err := url.Parse(base)
	if err != nil || !b.IsAbs() || b.Host == "" {
		return link
	}
	link.Scheme, link.Host, link.User = b.Scheme, b.Host, nil
	return link
}
