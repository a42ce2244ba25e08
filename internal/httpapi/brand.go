package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/store"
)

// brandJSON is a brand as the browser app applies it (see Brand in api/openapi.yaml).
// Its colours and logo URL were checked when the partner was put (#rrggbb, https), and
// the app sets them as CSS custom properties and an img src, never as markup.
type brandJSON struct {
	Channel      string      `json:"channel"`
	Name         string      `json:"name"`
	LogoURL      string      `json:"logo_url,omitempty"`
	PrimaryColor string      `json:"primary_color,omitempty"`
	AccentColor  string      `json:"accent_color,omitempty"`
	Domain       string      `json:"domain,omitempty"`
	Support      supportJSON `json:"support"`
}

func toSupport(s commerce.Support) supportJSON {
	return supportJSON{Channel: s.Channel, Name: s.Name, Email: s.Email, URL: s.URL, Phone: s.Phone}
}

func toBrand(b commerce.Brand) brandJSON {
	return brandJSON{Channel: b.Channel, Name: b.Name, LogoURL: b.LogoURL, PrimaryColor: b.PrimaryColor,
		AccentColor: b.AccentColor, Domain: b.Domain, Support: toSupport(b.Support)}
}

// defaultBrand is the brand of a server that sells nothing (no commerce service).
var defaultBrand = brandJSON{Channel: store.ChannelDirect, Name: commerce.DefaultBrandName,
	Support: supportJSON{Channel: store.ChannelDirect, Name: commerce.DefaultBrandName}}

// getBrand answers the brand of the request's host: the partner's whose domain it is, or
// the operator's. It is public: the app asks for it before anyone signs in.
func (a *accountAPI) getBrand(w http.ResponseWriter, r *http.Request, _ account.Principal) {
	if a.commerce == nil {
		writeJSON(w, http.StatusOK, defaultBrand)
		return
	}
	writeJSON(w, http.StatusOK, toBrand(a.commerce.BrandForHost(r.Context(), r.Host)))
}

// supportOf is the account's first-line support contact, or nil when it cannot be told
// (no commerce service, or its channel names no partner record: logged).
func (a *accountAPI) supportOf(ctx context.Context, acc store.Account) *supportJSON {
	if a.commerce == nil {
		return nil
	}
	s, err := a.commerce.SupportContact(ctx, acc)
	if err != nil {
		a.log.WarnContext(ctx, "support contact of an account", "account", acc.ID, "err", err)
		return nil
	}
	j := toSupport(s)
	return &j
}

// linkBase is the base URL of the links shown to an account's people (meetings' join
// links): its OEM partner's domain, or the server's public URL.
func (m *meetingAPI) linkBase(ctx context.Context, acc store.Account) string {
	if m.brands == nil {
		return m.publicURL
	}
	b, err := m.brands.AccountBrand(ctx, acc)
	if err != nil {
		m.log.WarnContext(ctx, "brand of an account's links; using the public URL", "account", acc.ID, "err", err)
		return m.publicURL
	}
	if base := b.BaseURL(); base != "" {
		return base
	}
	return m.publicURL
}

// logoOrigin is the origin of the brand's logo for the page's img-src, or "" for none (or
// one that is not a plain https origin).
func logoOrigin(b commerce.Brand) string {
	u, err := url.Parse(b.LogoURL)
	if b.LogoURL == "" || err != nil || u.Scheme != "https" || !isPlainHost(u.Host) {
		return ""
	}
	return "https://" + u.Host
}
