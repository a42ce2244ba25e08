package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// CodeHomeRegionElsewhere: a sign-up whose home region is not this node's. Its data at
// rest may live only in its home region's store, and this node holds only its own
// region's, so the sign-up must be made through a node of that region: in a deployment
// of several regions, internal/residency forwards it there before it reaches here.
const CodeHomeRegionElsewhere = "home_region_elsewhere"

// regions is the deployment a Service runs in and the region of its node.
type regions struct {
	dep  topology.Deployment
	self topology.Region
}

func newRegions(dep topology.Deployment, self string) (regions, error) {
	if len(dep.Regions) == 0 {
		dep = topology.Default()
	}
	if self == "" {
		self = topology.DefaultRegion
	}
	if err := dep.Validate(); err != nil {
		return regions{}, fmt.Errorf("account: %w", err)
	}
	r, ok := dep.Lookup(self)
	if !ok {
		return regions{}, fmt.Errorf("account: this node's region %q is not in the region list", self)
	}
	return regions{dep: dep, self: r}, nil
}

// Deployment is the region list the service runs in.
func (s *Service) Deployment() topology.Deployment { return s.regions.dep }

// Region is this node's region: the home region of every account its store holds.
func (s *Service) Region() topology.Region { return s.regions.self }

// regionRefusal turns a topology refusal into the account package's, keeping its code.
func regionRefusal(err error) error {
	if code, msg, ok := topology.CodeOf(err); ok {
		return &Error{Code: code, Message: msg, err: err}
	}
	return err
}

// checkJurisdiction reads a jurisdiction as people may type it ("us", " EU"); empty is
// unknown.
func checkJurisdiction(j string) (string, error) {
	j = strings.ToUpper(strings.TrimSpace(j))
	if j != "" && !topology.ValidJurisdiction(j) {
		return "", invalid(fmt.Sprintf("jurisdiction %q: want 2 or 3 letters, such as US, EU or CN", j))
	}
	return j, nil
}

// HomeProposal returns the regions a sign-up from jurisdiction j (empty if unknown) may
// choose as home, and the one proposed to it: the region of j, else the nearest open one,
// distances taken from this node's region (the sign-up came in through it). proposed is
// zero, with no error, when no region is open to j.
func (s *Service) HomeProposal(j string) (choices []topology.Region, proposed topology.Region, err error) {
	j, err = checkJurisdiction(j)
	if err != nil {
		return nil, topology.Region{}, err
	}
	loc := s.regions.self.Location
	proposed, err = topology.DefaultHome(s.regions.dep, j, &loc)
	if err != nil && !errors.Is(err, topology.ErrNoHomeRegion) {
		return nil, topology.Region{}, regionRefusal(err)
	}
	return topology.HomeChoices(s.regions.dep, j), proposed, nil
}

// signUpHome decides a sign-up's home region: the one asked for, which must be open to
// its jurisdiction, or else the proposal. It must be this node's region.
func (s *Service) signUpHome(j, asked string) (topology.Region, error) {
	choices, home, err := s.HomeProposal(j)
	if err != nil {
		return topology.Region{}, err
	}
	if asked = strings.TrimSpace(asked); asked != "" {
		r, ok := s.regions.dep.Lookup(asked)
		if !ok {
			return topology.Region{}, &Error{Code: topology.CodeUnknownRegion,
				Message: fmt.Sprintf("home region %q is not a region of this deployment", asked)}
		}
		if r.Partner != "" {
			// The public sign-up's accounts are the operator's (direct); a partner homes
			// its own customers when it provisions them.
			return topology.Region{}, &Error{Code: topology.CodePartnerRegion, Message: fmt.Sprintf(
				"%s is run by a partner for its own customers; choose another home region, or sign up through the partner", r.ID)}
		}
		if !slices.ContainsFunc(choices, func(c topology.Region) bool { return c.ID == r.ID }) {
			return topology.Region{}, invalid(fmt.Sprintf("%s is an opt-in region: it is the home of accounts of its own jurisdiction %s only",
				r.ID, r.Jurisdiction))
		}
		home = r
	}
	if home.ID == "" {
		return topology.Region{}, &Error{Code: topology.CodeNoHomeRegion,
			Message: "no region of this deployment is open to sign-ups from " + j + "; choose a home region"}
	}
	if home.ID != s.regions.self.ID {
		return topology.Region{}, &Error{Code: CodeHomeRegionElsewhere, Message: fmt.Sprintf(
			"the home region %s keeps the account's data, and this node is in %s: sign up through a node of %s, or choose %s as home region",
			home.ID, s.regions.self.ID, home.ID, s.regions.self.ID)}
	}
	return home, nil
}

// RegionChoice is a region of the deployment as an account's settings show it.
type RegionChoice struct {
	topology.Region
	// Home: the account's home region, which keeps its data and is always allowed.
	Home bool
	// Allowed: the region may carry the account's meetings.
	Allowed bool
	// Locked: the account cannot change Allowed (the home region, or any region on a
	// plan without region selection).
	Locked bool
	// OptIn: an opt-in region of another jurisdiction than the home region's; turning it
	// on needs an owner's or admin's acknowledgement of Warning.
	OptIn bool
	// OptedIn: an owner or admin turned the opt-in region on.
	OptedIn bool
	// PartnerName names, for a region run by a partner (Region.Partner), that partner for
	// people; only the partner's customers see such a region.
	PartnerName string
	// Explanation is one sentence for people.
	Explanation string
	// Warning says, for an opt-in region, what turning it on means.
	Warning string
}

// RegionSettings are the regions an account's meetings may use.
type RegionSettings struct {
	Home string
	// Allowed is the set a meeting of the account takes when it starts.
	Allowed topology.AllowedSet
	// RegionSelection: the account's plan lets it choose regions beyond its home.
	RegionSelection bool
	// CanChange: the principal asking may change them (a signed-in owner or admin).
	CanChange bool
	// Regions are the regions of the deployment that may carry the account's meetings at
	// all, in the list's order: every region of the operator's and, for a partner's
	// customer, the partner's own. Other partners' regions are not shown.
	Regions []RegionChoice
}

// RegionsInput is a change of an account's regions.
type RegionsInput struct {
	// Allowed are the regions that may carry the account's meetings; the home region
	// must be among them. Empty means the home region alone.
	Allowed []string
	// AcknowledgeOptIn lists the opt-in regions whose warning the owner or admin has
	// read and accepts; every opt-in region newly in Allowed must be here.
	AcknowledgeOptIn []string
}

// regionActor decides whether p may change its account's regions: a signed-in owner or
// admin. No API key may, since no scope is meant for it: where an account's meetings may
// be carried is a decision for a person.
func regionActor(p Principal) *Error {
	if p.ViaAPIKey() {
		return forbidden("an API key cannot change the account's regions; an owner or admin signs in to do it")
	}
	switch p.User.Role {
	case RoleOwner, RoleAdmin:
		return nil
	}
	return forbidden("only an account's owner or admins may change the regions that carry its meetings")
}

// AllowedRegions is the set of regions account a's meetings may use now: its choices, as
// far as its plan and the deployment still allow them (a region dropped from the list or
// no longer opted in falls away; a plan without region selection leaves the home region
// alone). A meeting takes it when it goes live.
func (s *Service) AllowedRegions(ctx context.Context, a store.Account) (topology.AllowedSet, error) {
	stored, err := s.store.GetAccountRegions(ctx, a.ID)
	if err != nil {
		return topology.AllowedSet{}, err
	}
	set, _, err := s.effectiveRegions(a, stored)
	return set, err
}

// effectiveRegions computes an account's set from its stored choices, and returns the
// opt-ins those choices record. An account that never chose has DefaultAllowed: a
// partner's customer then gets the partner's regions.
func (s *Service) effectiveRegions(a store.Account, stored store.AccountRegions) (topology.AllowedSet, map[string]bool, error) {
	dep := s.regions.dep
	home, ok := dep.Lookup(a.Region)
	if !ok {
		return topology.AllowedSet{}, nil, regionRefusal(topology.ErrUnknownRegion)
	}
	channel := channelOf(a)
	opted, err := topology.ParseAllowedSet(stored.OptedIn)
	if err != nil {
		return topology.AllowedSet{}, nil, fmt.Errorf("account %s: stored opt-ins: %w", a.ID, err)
	}
	optedIn := map[string]bool{}
	for _, id := range opted.IDs() {
		optedIn[id] = true
	}
	selection := planOf(a).RegionSelection
	if stored.Allowed == "" {
		set, err := topology.DefaultAllowed(dep, home.ID, channel, selection, optedIn)
		if err != nil {
			return topology.AllowedSet{}, nil, regionRefusal(err)
		}
		return set, optedIn, nil
	}
	chosen, err := topology.ParseAllowedSet(stored.Allowed)
	if err != nil {
		return topology.AllowedSet{}, nil, fmt.Errorf("account %s: stored regions: %w", a.ID, err)
	}
	var keep []string
	if selection {
		keep = []string{home.ID}
		for _, id := range chosen.IDs() {
			// A region gone from the list, no longer opted in, or now a partner's that
			// the account is not a customer of, falls away.
			if r, ok := dep.Lookup(id); ok && r.Serves(channel) && (!topology.NeedsOptIn(r, home) || optedIn[id]) {
				keep = append(keep, id)
			}
		}
	}
	set, err := topology.EffectiveAllowed(dep, home.ID, channel, keep, selection, optedIn)
	if err != nil {
		return topology.AllowedSet{}, nil, regionRefusal(err)
	}
	return set, optedIn, nil
}

// channelOf is an account's sales channel: "direct" or a partner's id.
func channelOf(a store.Account) string {
	if a.Channel == "" {
		return store.ChannelDirect
	}
	return a.Channel
}

// partnerName names a partner for people: its name in the running jurisdiction policy,
// the authority on partners every node holds, else its id.
func (s *Service) partnerName(id string) string {
	if p := s.runningPolicy(); p != nil {
		if pt, ok := p.Partner(id); ok && pt.Name != "" {
			return pt.Name
		}
	}
	return id
}

// planOf is an account's entitlements; an unknown plan entitles to nothing.
func planOf(a store.Account) Entitlements {
	ent, err := EntitlementsOf(Plan(a.Plan))
	if err != nil {
		return Entitlements{}
	}
	return ent
}

// Regions returns p's account's region settings. Anyone of the account may read them; an
// API key needs account:read.
func (s *Service) Regions(ctx context.Context, p Principal) (RegionSettings, error) {
	if !p.Allows(ScopeAccountRead) {
		return RegionSettings{}, forbidden("this API key lacks the scope " + ScopeAccountRead)
	}
	stored, err := s.store.GetAccountRegions(ctx, p.Account.ID)
	if err != nil {
		return RegionSettings{}, err
	}
	return s.regionSettings(p, stored)
}

func (s *Service) regionSettings(p Principal, stored store.AccountRegions) (RegionSettings, error) {
	set, optedIn, err := s.effectiveRegions(p.Account, stored)
	if err != nil {
		return RegionSettings{}, err
	}
	home, _ := s.regions.dep.Lookup(p.Account.Region)
	selection := planOf(p.Account).RegionSelection
	out := RegionSettings{Home: home.ID, Allowed: set, RegionSelection: selection, CanChange: regionActor(p) == nil}
	for _, r := range s.regions.dep.Regions {
		if !r.Serves(channelOf(p.Account)) {
			continue
		}
		c := RegionChoice{Region: r, Home: r.ID == home.ID, Allowed: set.Contains(r.ID), OptIn: topology.NeedsOptIn(r, home)}
		c.OptedIn = c.OptIn && optedIn[r.ID]
		c.Locked = c.Home || !selection
		if c.OptIn {
			c.Warning = optInWarning(r)
		}
		if r.Partner != "" {
			c.PartnerName = s.partnerName(r.Partner)
		}
		c.Explanation = explain(c, selection)
		out.Regions = append(out.Regions, c)
	}
	return out, nil
}

// explain is the one sentence the settings show beside a region.
func explain(c RegionChoice, selection bool) string {
	in := ""
	if name, ok := jurisdictionName(c.Jurisdiction); ok {
		in = ", in " + name
	}
	if c.PartnerName != "" {
		return "Run by " + c.PartnerName + in + ": " + explainPartner(c, selection)
	}
	switch {
	case c.Home:
		return fmt.Sprintf("Your home region%s: your account's data is stored here, and it always carries your meetings.", in)
	case !selection:
		return "Your plan keeps meetings in your home region; a plan with region selection can let this region carry them too."
	case c.OptIn && !c.Allowed:
		return fmt.Sprintf("An opt-in region%s: it carries none of your meetings unless an owner or admin turns it on.", in)
	case c.Allowed:
		return fmt.Sprintf("Data centers here%s may carry your meetings; your data at rest stays in your home region.", in)
	}
	return fmt.Sprintf("Data centers here%s carry none of your meetings unless you turn it on.", in)
}

// explainPartner is the rest of the sentence for a region run by the account's partner.
func explainPartner(c RegionChoice, selection bool) string {
	switch {
	case c.Home:
		return "your home region; your account's data is stored here, and it always carries your meetings."
	case !selection:
		return "your plan keeps meetings in your home region."
	case c.OptIn && !c.Allowed:
		return "an opt-in region; it carries none of your meetings unless an owner or admin turns it on."
	case c.Allowed:
		return "it may carry your meetings; your data at rest stays in your home region."
	}
	return "it carries none of your meetings unless you turn it on."
}

// optInWarning is what turning an opt-in region on means, in plain words.
func optInWarning(r topology.Region) string {
	name, ok := jurisdictionName(r.Jurisdiction)
	if !ok {
		name = "the jurisdiction " + r.Jurisdiction
	}
	return fmt.Sprintf("Meetings may then be carried by data centers in %s, under that jurisdiction's laws.", name)
}

// jurisdictionName names a jurisdiction code for people: "China", "the European Union".
// ok is false for a code that names no country (ZZ, the single-node deployment's).
func jurisdictionName(code string) (name string, ok bool) {
	r, err := language.ParseRegion(code)
	if err != nil || code == topology.DefaultJurisdiction {
		return "", false
	}
	if name = display.English.Regions().Name(r); name == "" {
		return "", false
	}
	for _, p := range []string{"United ", "European ", "Netherlands", "Philippines", "Czech Republic"} {
		if strings.HasPrefix(name, p) {
			return "the " + name, true
		}
	}
	return name, true
}

// SetRegions changes the regions that carry p's account's meetings: a signed-in owner or
// admin may. An opt-in region of another jurisdiction is turned on only with its
// acknowledgement; turning it off withdraws the opt-in. The home region cannot be turned
// off, a plan without region selection stays at home, and unknown regions are refused,
// with topology's codes. Every change and refusal is audited, a change with its before
// and after. Meetings already live keep the set they started with.
func (s *Service) SetRegions(ctx context.Context, p Principal, in RegionsInput) (RegionSettings, error) {
	const action = "account.regions"
	refuse := func(err error) (RegionSettings, error) {
		code, msg := CodeOf(err)
		s.audit(ctx, p.Actor(), action, p.Account.ID, code, msg)
		return RegionSettings{}, err
	}
	if denied := regionActor(p); denied != nil {
		return refuse(denied)
	}
	acks, err := topology.NewAllowedSet(in.AcknowledgeOptIn...)
	if err != nil {
		return refuse(regionRefusal(err))
	}
	for _, id := range acks.IDs() {
		r, ok := s.regions.dep.Lookup(id)
		if !ok {
			return refuse(&Error{Code: topology.CodeUnknownRegion, Message: fmt.Sprintf("acknowledged region %q is not a region of this deployment", id)})
		}
		if !r.Serves(channelOf(p.Account)) {
			return refuse(&Error{Code: topology.CodePartnerRegion, Message: fmt.Sprintf(
				"acknowledged region %s is run by a partner and carries only the meetings of that partner's customers", id)})
		}
	}
	home, ok := s.regions.dep.Lookup(p.Account.Region)
	if !ok {
		return refuse(regionRefusal(topology.ErrUnknownRegion))
	}
	// Read, decide and write again if another change came in between, so that the
	// audited before is what the change replaced.
	for range 3 {
		stored, err := s.store.GetAccountRegions(ctx, p.Account.ID)
		if err != nil {
			return RegionSettings{}, err
		}
		before, optedIn, err := s.effectiveRegions(p.Account, stored)
		if err != nil {
			return RegionSettings{}, err
		}
		for _, id := range acks.IDs() {
			optedIn[id] = true
		}
		after, err := topology.EffectiveAllowed(s.regions.dep, home.ID, channelOf(p.Account), in.Allowed, planOf(p.Account).RegionSelection, optedIn)
		if err != nil {
			return refuse(regionRefusal(err))
		}
		if err := s.decideNewRegions(ctx, p, before, after, optedIn); err != nil {
			return RegionSettings{}, err
		}
		var opted []string
		for _, id := range after.IDs() {
			if r, _ := s.regions.dep.Lookup(id); topology.NeedsOptIn(r, home) {
				opted = append(opted, id)
			}
		}
		next := store.AccountRegions{Allowed: after.String(), OptedIn: strings.Join(opted, ",")}
		if after.Equal(before) && next.OptedIn == stored.OptedIn {
			// Nothing changes: keep the stored choices as they are (a downgraded
			// account's, say, which apply again on a plan with region selection).
			return s.regionSettings(p, stored)
		}
		err = s.store.UpdateAccountRegions(ctx, p.Account.ID, stored, next)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return RegionSettings{}, err
		}
		s.audit(ctx, p.Actor(), action, p.Account.ID, "ok", fmt.Sprintf("allowed %s -> %s; opted in %s -> %s",
			orNone(before.String()), orNone(after.String()), orNone(stored.OptedIn), orNone(next.OptedIn)))
		return s.regionSettings(p, next)
	}
	return RegionSettings{}, errors.New("account: the account's regions kept changing during the update")
}

// decideNewRegions asks the jurisdiction policy's change_regions question of every region
// after adds to before: whether the account may use it, with its data at rest in its home
// region (a jurisdiction's residency and opt-in rules). A refusal is audited and returned
// with its decision; nothing is changed.
func (s *Service) decideNewRegions(ctx context.Context, p Principal, before, after topology.AllowedSet, optedIn map[string]bool) error {
	// Asked with no policy running too (it allows), for the decision log's replay.
	pol, now := s.runningPolicy(), s.now()
	for _, id := range after.IDs() {
		if before.Contains(id) {
			continue
		}
		f := PolicyFacts(pol, p.Account)
		f.Region, f.OptedIn = id, optedIn[id]
		d := policy.ChangeRegions(pol, f, now)
		if s.decided != nil {
			s.decided.Record(ctx, decisionlog.Made{Question: policy.QChangeRegions, Subject: p.Account.ID, Facts: f, Decision: d, At: now})
		}
		if !d.Allowed {
			s.audit(ctx, p.Actor(), "account.regions", p.Account.ID, d.Code,
				"region="+id+" rule="+d.RuleID+" jurisdiction="+d.Jurisdiction+" policy="+d.PolicyVersion)
			return &Error{Code: d.Code, Message: d.Explain(), Decision: &d}
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
