package httpapi

import (
	"errors"
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
	// HomeChoice: a sign-up from the asked jurisdiction may choose it as home region.
	HomeChoice bool `json:"home_choice"`
}

func toRegion(r topology.Region, homeChoice bool) regionJSON {
	return regionJSON{ID: r.ID, Name: r.Name, Jurisdiction: r.Jurisdiction, OptIn: r.OptIn, Location: r.Location, HomeChoice: homeChoice}
}

// listRegions answers anyone with the deployment's regions, in the list's order, for the
// sign-up page's choice of home region: with ?jurisdiction=XX, those a sign-up from XX
// may choose and the one proposed to it.
func (a *accountAPI) listRegions(w http.ResponseWriter, r *http.Request, _ account.Principal) {
	dep := a.svc.Deployment()
	j := r.URL.Query().Get("jurisdiction")
	home, err := topology.DefaultHome(dep, j, nil)
	if err != nil && !errors.Is(err, topology.ErrNoHomeRegion) {
		a.failRegion(w, r, err)
		return
	}
	open := map[string]bool{}
	for _, c := range topology.HomeChoices(dep, j) {
		open[c.ID] = true
	}
	out := struct {
		Regions []regionJSON `json:"regions"`
		// NodeRegion is the region of the node that answered: sign-ups here are homed
		// there.
		NodeRegion  string `json:"node_region"`
		DefaultHome string `json:"default_home,omitempty"`
	}{Regions: make([]regionJSON, 0, len(dep.Regions)), NodeRegion: a.svc.Region().ID, DefaultHome: home.ID}
	for _, reg := range dep.Regions {
		out.Regions = append(out.Regions, toRegion(reg, open[reg.ID]))
	}
	writeJSON(w, http.StatusOK, out)
}

// regionStatus maps topology's refusal codes onto HTTP statuses.
var regionStatus = map[string]int{
	topology.CodeInvalidInput:  http.StatusBadRequest,
	topology.CodeUnknownRegion: http.StatusBadRequest,
	topology.CodeHomeRequired:  http.StatusBadRequest,
	topology.CodeOptInRequired: http.StatusBadRequest,
	topology.CodePlanLocked:    http.StatusForbidden,
	topology.CodeNoHomeRegion:  http.StatusBadRequest,
}

// failRegion writes a topology refusal with its own code; anything else goes to fail.
func (a *accountAPI) failRegion(w http.ResponseWriter, r *http.Request, err error) {
	if code, msg, ok := topology.CodeOf(err); ok {
		if status, known := regionStatus[code]; known {
			WriteError(w, status, code, msg)
			return
		}
	}
	a.fail(w, r, err)
}
