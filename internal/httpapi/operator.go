package httpapi

import (
	"net/http"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/store"
)

// The operator's partner routes (/api/operator/partners/...): partner records and their
// keys, for the users configured as operators, signed in with a session (never by API
// key). A partner's record and keys live in the region that serves the request: the
// operator's home region.

// operatorOnly serves h to operators only: anyone else signed in is forbidden.
func operatorOnly(h func(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal)) func(*accountAPI, http.ResponseWriter, *http.Request, account.Principal) {
	return func(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
		if a.commerce == nil {
			WriteError(w, http.StatusNotFound, commerce.CodeNotFound, "this server does not serve partners")
			return
		}
		if !a.isOperator(p) {
			WriteError(w, http.StatusForbidden, account.CodeForbidden, "only operators may manage partners and their keys")
			return
		}
		h(a, w, r, p)
	}
}

type partnerBrandJSON struct {
	Name         string `json:"name"`
	LogoURL      string `json:"logo_url"`
	PrimaryColor string `json:"primary_color"`
	AccentColor  string `json:"accent_color"`
	Domain       string `json:"domain"`
}

type contactJSON struct {
	Email string `json:"email"`
	URL   string `json:"url"`
	Phone string `json:"phone"`
}

type partnerRecordJSON struct {
	ID            string           `json:"id"`
	Region        string           `json:"region"`
	Kind          string           `json:"kind"`
	Name          string           `json:"name"`
	Brand         partnerBrandJSON `json:"brand"`
	Support       contactJSON      `json:"support"`
	Jurisdictions []string         `json:"jurisdictions"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
}

func toPartnerRecord(p store.Partner) partnerRecordJSON {
	j := partnerRecordJSON{ID: p.ID, Region: p.Region, Kind: p.Kind, Name: p.Name,
		Brand:   partnerBrandJSON{Name: p.Brand.Name, LogoURL: p.Brand.LogoURL, PrimaryColor: p.Brand.PrimaryColor, AccentColor: p.Brand.AccentColor, Domain: p.Brand.Domain},
		Support: contactJSON{Email: p.Support.Email, URL: p.Support.URL, Phone: p.Support.Phone}, Jurisdictions: p.Jurisdictions,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if j.Jurisdictions == nil {
		j.Jurisdictions = []string{}
	}
	return j
}

func getPartner(a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	ps, err := a.commerce.ForPartner(r.Context(), r.PathValue("id"))
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Partner partnerRecordJSON `json:"partner"`
	}{toPartnerRecord(ps.Partner())})
}

func putPartner(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Kind          string           `json:"kind"`
		Name          string           `json:"name"`
		Brand         partnerBrandJSON `json:"brand"`
		Support       contactJSON      `json:"support"`
		Jurisdictions []string         `json:"jurisdictions"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	got, err := a.commerce.PutPartnerAs(r.Context(), p.Actor(), store.Partner{ID: r.PathValue("id"), Kind: in.Kind, Name: in.Name,
		Brand: store.Brand{Name: in.Brand.Name, LogoURL: in.Brand.LogoURL, PrimaryColor: in.Brand.PrimaryColor,
			AccentColor: in.Brand.AccentColor, Domain: in.Brand.Domain},
		Support:       store.SupportContact{Email: in.Support.Email, URL: in.Support.URL, Phone: in.Support.Phone},
		Jurisdictions: in.Jurisdictions})
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Partner partnerRecordJSON `json:"partner"`
	}{toPartnerRecord(got)})
}

func listPartnerKeys(a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	keys, err := a.svc.ListPartnerKeys(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Keys []partnerKeyJSON `json:"keys"`
	}{Keys: make([]partnerKeyJSON, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, toPartnerKey(k))
	}
	writeJSON(w, http.StatusOK, out)
}

func createPartnerKey(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	k, secret, err := a.svc.CreatePartnerKey(r.Context(), p.Actor(), r.PathValue("id"), in.Name, in.Scopes)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Key    partnerKeyJSON `json:"key"`
		Secret string         `json:"secret"`
	}{toPartnerKey(k), secret})
}

func revokePartnerKey(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	if err := a.svc.RevokePartnerKey(r.Context(), p.Actor(), r.PathValue("id"), r.PathValue("key_id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
