package commerce

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/store"
)

// Brand is how the product shows itself: the operator's own, or a partner's. An OEM
// partner's brand is its customers' everywhere (app, mail, links); any partner's brand is
// everybody's on the partner's own domain.
type Brand struct {
	// Channel is "direct" for the operator's brand, or the partner's id.
	Channel      string
	Name         string
	LogoURL      string // https, or empty for the product's own logo
	PrimaryColor string // #rrggbb, or empty for the product's own colours
	AccentColor  string
	// Domain is the partner's host name (lower-case), where its brand is served; empty
	// for the operator's brand, which is served on the server's public URL.
	Domain string
	// Support is who gives first-line support under this brand.
	Support Support
}

// DefaultBrandName is the operator's brand name when its Support names none.
const DefaultBrandName = "Meridian"

// brandTTL is how long a node serves the partners' brands it read before reading them
// again: a partner put through this Service is seen at once, one put through another node
// of the region within brandTTL.
const brandTTL = 30 * time.Second

// brandCache keeps the partners that have a domain, by domain, so that serving a page
// costs no query. It holds one entry per such partner (never per host asked for), and is
// read again at most once per brandTTL, by one caller while the others use what it had.
type brandCache struct {
	reload   sync.Mutex // held by the one caller reading the partners again
	mu       sync.RWMutex
	byDomain map[string]store.Partner // nil until first read
	loadedAt time.Time                // zero: read again at the next lookup
}

// OperatorBrand is the operator's own brand: the one of direct accounts, and of every host
// that is no partner's domain.
func (s *Service) OperatorBrand() Brand {
	sup := s.operator
	if sup.Name == "" {
		sup.Name = DefaultBrandName
	}
	return Brand{Channel: store.ChannelDirect, Name: sup.Name, Support: sup}
}

func (s *Service) partnerBrand(p store.Partner) Brand {
	sup := s.seller(Channel{Kind: p.Kind, Partner: &p})
	return Brand{Channel: p.ID, Name: sup.Name, LogoURL: p.Brand.LogoURL, PrimaryColor: p.Brand.PrimaryColor,
		AccentColor: p.Brand.AccentColor, Domain: p.Brand.Domain, Support: sup}
}

// BrandForHost is the brand a request to host (its Host header: a name, with or without a
// port, in any case) is served under: the partner's whose domain it is, else the
// operator's. It never fails: when the partners cannot be read it says the operator's
// brand (and logs why), since no decision hangs on it.
func (s *Service) BrandForHost(ctx context.Context, host string) Brand {
	if p, ok := s.partnerByDomain(ctx, normalizeHost(host)); ok {
		return s.partnerBrand(p)
	}
	return s.OperatorBrand()
}

// AccountBrand is the brand an account's people see in mail and links: its OEM partner's,
// or else the operator's, with the account's first-line support (its reseller's, if it
// has one) in either case.
func (s *Service) AccountBrand(ctx context.Context, a store.Account) (Brand, error) {
	c, err := s.channelOf(ctx, a)
	if err != nil {
		return Brand{}, err
	}
	if c.Kind == store.PartnerOEM {
		return s.partnerBrand(*c.Partner), nil
	}
	b := s.OperatorBrand()
	b.Support = s.seller(c)
	return b, nil
}

// MailBrand is account.Brander: the account's brand name, and for an OEM partner's
// customer the partner's domain as the base of links (https, since a partner's domain is
// served over TLS by the operator; see docs/commerce.md).
func (s *Service) MailBrand(ctx context.Context, a store.Account) (account.MailBrand, error) {
	b, err := s.AccountBrand(ctx, a)
	if err != nil {
		return account.MailBrand{}, err
	}
	return account.MailBrand{Name: b.Name, BaseURL: b.BaseURL()}, nil
}

// BaseURL is where links under the brand point: https://<domain> for a partner's brand
// with a domain, empty (the server's public URL) otherwise.
func (b Brand) BaseURL() string {
	if b.Domain == "" {
		return ""
	}
	return "https://" + b.Domain
}

// partnerByDomain finds the partner whose domain is d (already normalized).
func (s *Service) partnerByDomain(ctx context.Context, d string) (store.Partner, bool) {
	if d == "" {
		return store.Partner{}, false
	}
	c := &s.brands
	c.mu.RLock()
	m, fresh := c.byDomain, !c.loadedAt.IsZero() && time.Since(c.loadedAt) < brandTTL
	c.mu.RUnlock()
	if !fresh {
		// The first read waits for the partners; later ones go on with what they had
		// while one caller reads them again.
		if m == nil {
			c.reload.Lock()
		} else if !c.reload.TryLock() {
			p, ok := m[d]
			return p, ok
		}
		m = s.reloadBrands(ctx)
		c.reload.Unlock()
	}
	p, ok := m[d]
	return p, ok
}

// reloadBrands reads the partners with a domain again, unless another caller just did;
// the caller holds brands.reload. On a store error it keeps what it had.
func (s *Service) reloadBrands(ctx context.Context) map[string]store.Partner {
	c := &s.brands
	c.mu.RLock()
	m, fresh := c.byDomain, !c.loadedAt.IsZero() && time.Since(c.loadedAt) < brandTTL
	c.mu.RUnlock()
	if fresh {
		return m
	}
	ps, err := s.store.ListPartners(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "reading partners' brands; serving the ones read before", "err", err)
		return m
	}
	next := make(map[string]store.Partner, len(ps))
	for _, p := range ps {
		if p.Brand.Domain != "" {
			next[p.Brand.Domain] = p
		}
	}
	c.mu.Lock()
	c.byDomain, c.loadedAt = next, time.Now()
	c.mu.Unlock()
	return next
}

// forgetBrands makes the next lookup read the partners again (one was put).
func (s *Service) forgetBrands() {
	s.brands.mu.Lock()
	s.brands.loadedAt = time.Time{}
	s.brands.mu.Unlock()
}

// normalizeHost is a Host header's name: no port, lower-case, no trailing dot; empty for
// one that cannot be a domain.
func normalizeHost(h string) string {
	h = strings.TrimSpace(h)
	if name, _, err := net.SplitHostPort(h); err == nil {
		h = name
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if len(h) > 253 {
		return ""
	}
	return h
}

// PutPriceBookAs is PutPriceBook by actor, written to the audit trail whatever its
// outcome.
func (s *Service) PutPriceBookAs(ctx context.Context, actor string, b PriceBook) error {
	err := s.PutPriceBook(ctx, b)
	s.record(ctx, actor, "price_book.put", b.Channel+"/"+b.Currency, outcomeOf(err), fmt.Sprintf("%d prices", len(b.Prices)))
	return err
}

func outcomeOf(err error) string {
	if err == nil {
		return "ok"
	}
	if e := (*Error)(nil); errors.As(err, &e) {
		return e.Code
	}
	return "error"
}
