package httpapi

import (
	"net/http"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/topology"
)

// regionJSON is a region of the deployment as the API shows it.
type regionJSON struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Jurisdiction string          `json:"jurisdiction"`
	OptIn        bool            `json:"opt_in"`
	Location     topology.LatLng `json:"location"`
}

func toRegion(r topology.Region) regionJSON {
	return regionJSON{ID: r.ID, Name: r.Name, Jurisdiction: r.Jurisdiction, OptIn: r.OptIn, Location: r.Location}
}

// listRegions answers anyone with the deployment's regions, in the list's order, for the
// sign-up page's choice of home region: with ?jurisdiction=XX, those a sign-up from XX
// may choose and the one proposed to it. A region run by a partner is left out: it
// carries only the partner's customers' meetings, and a sign-up here is the operator's
// (direct), so it is nobody's choice here; its customers see it in their account's
// regions.
func (a *accountAPI) listRegions(w http.ResponseWriter, r *http.Request, _ account.Principal) {
	choices, proposed, err := a.svc.HomeProposal(r.URL.Query().Get("jurisdiction"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	open := map[string]bool{}
	for _, c := range choices {
		open[c.ID] = true
	}
	type signUpRegion struct {
		regionJSON
		HomeChoice bool `json:"home_choice"`
	}
	dep := a.svc.Deployment()
	out := struct {
		Regions     []signUpRegion `json:"regions"`
		NodeRegion  string         `json:"node_region"`
		DefaultHome string         `json:"default_home,omitempty"`
	}{Regions: make([]signUpRegion, 0, len(dep.Regions)), NodeRegion: a.svc.Region().ID, DefaultHome: proposed.ID}
	for _, reg := range dep.Regions {
		if reg.Partner != "" {
			continue
		}
		out.Regions = append(out.Regions, signUpRegion{toRegion(reg), open[reg.ID]})
	}
	writeJSON(w, http.StatusOK, out)
}

// accountRegionJSON is a region as an account's settings show it.
type accountRegionJSON struct {
	regionJSON
	Home       bool `json:"home"`
	Allowed    bool `json:"allowed"`
	Locked     bool `json:"locked"`
	NeedsOptIn bool `json:"needs_opt_in"`
	OptedIn    bool `json:"opted_in"`
	// Partner and PartnerName say, for a region run by the account's partner, who runs it.
	Partner     string `json:"partner,omitempty"`
	PartnerName string `json:"partner_name,omitempty"`
	Explanation string `json:"explanation"`
	Warning     string `json:"warning,omitempty"`
}

type accountRegionsJSON struct {
	Home            string              `json:"home"`
	Allowed         topology.AllowedSet `json:"allowed"`
	RegionSelection bool                `json:"region_selection"`
	CanChange       bool                `json:"can_change"`
	Regions         []accountRegionJSON `json:"regions"`
}

func toAccountRegions(s account.RegionSettings) accountRegionsJSON {
	out := accountRegionsJSON{Home: s.Home, Allowed: s.Allowed, RegionSelection: s.RegionSelection, CanChange: s.CanChange,
		Regions: make([]accountRegionJSON, 0, len(s.Regions))}
	for _, c := range s.Regions {
		out.Regions = append(out.Regions, accountRegionJSON{
			regionJSON: toRegion(c.Region), Home: c.Home, Allowed: c.Allowed, Locked: c.Locked,
			NeedsOptIn: c.OptIn, OptedIn: c.OptedIn, Partner: c.Partner, PartnerName: c.PartnerName,
			Explanation: c.Explanation, Warning: c.Warning,
		})
	}
	return out
}

func (a *accountAPI) accountRegions(w http.ResponseWriter, r *http.Request, p account.Principal) {
	s, err := a.svc.Regions(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAccountRegions(s))
}

func (a *accountAPI) setAccountRegions(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Allowed          []string `json:"allowed"`
		AcknowledgeOptIn []string `json:"acknowledge_opt_in"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	s, err := a.svc.SetRegions(r.Context(), p, account.RegionsInput{Allowed: in.Allowed, AcknowledgeOptIn: in.AcknowledgeOptIn})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAccountRegions(s))
}
