package httpapi

import (
	"net/http"

	"github.com/meridian-video/meridian/internal/account"
)

// accountEntryJSON is an account's rule of entry by country (AccountEntry in
// api/openapi.yaml).
type accountEntryJSON struct {
	Mode      string   `json:"mode"`
	Countries []string `json:"countries"`
	GeoIP     bool     `json:"geoip"`
	CanChange bool     `json:"can_change"`
}

func toAccountEntry(s account.EntrySettings) accountEntryJSON {
	cs := s.Countries
	if cs == nil {
		cs = []string{}
	}
	return accountEntryJSON{Mode: s.Mode, Countries: cs, GeoIP: s.GeoIP, CanChange: s.CanChange}
}

func (a *accountAPI) accountEntry(w http.ResponseWriter, r *http.Request, p account.Principal) {
	s, err := a.svc.Entry(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAccountEntry(s))
}

func (a *accountAPI) setAccountEntry(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Mode      string   `json:"mode"`
		Countries []string `json:"countries"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	s, err := a.svc.SetEntry(r.Context(), p, account.EntryRule{Mode: in.Mode, Countries: in.Countries})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAccountEntry(s))
}
