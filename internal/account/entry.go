package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"github.com/meridian-video/meridian/internal/store"
)

// Modes of entry by country.
const (
	// EntryOff lets participants in from anywhere, as without GeoIP.
	EntryOff = "off"
	// EntryAllowList lets in only participants whose address GeoIP places in a listed
	// country: an address of unknown country is refused (fail closed).
	EntryAllowList = "allow_list"
	// EntryBlockList keeps out participants whose address GeoIP places in a listed
	// country; one of unknown country is let in.
	EntryBlockList = "block_list"
)

// Codes of entry by country.
const (
	// CodeEntryCountryBlocked: the participant's country is on the host account's
	// block-list, or not on its allow-list.
	CodeEntryCountryBlocked = "entry_country_blocked"
	// CodeEntryCountryUnknown: the host account has an allow-list, and GeoIP does not know
	// the participant's country.
	CodeEntryCountryUnknown = "entry_country_unknown"
	// CodeGeoIPUnavailable: a rule other than off cannot be set on a server without a
	// GeoIP database, which could not enforce it.
	CodeGeoIPUnavailable = "geoip_unavailable"
)

// maxEntryCountries bounds a list: there are 249 ISO 3166-1 countries.
const maxEntryCountries = 250

// EntryRule is an account's rule of who may enter its meetings, by the country GeoIP
// places the participant's address in.
type EntryRule struct {
	Mode string
	// Countries are ISO 3166-1 alpha-2 codes, sorted, each once. A rule that is off may
	// keep its list, for when it is turned on again.
	Countries []string
}

// EntryRuleOf reads a rule as the store keeps it. A mode it does not know is an error:
// the caller then refuses entry rather than guess.
func EntryRuleOf(e store.AccountEntry) (EntryRule, error) {
	r := EntryRule{Mode: e.Mode}
	if e.Countries != "" {
		r.Countries = strings.Split(e.Countries, ",")
	}
	switch e.Mode {
	case EntryOff, EntryAllowList, EntryBlockList:
		return r, nil
	case "":
		r.Mode = EntryOff
		return r, nil
	}
	return EntryRule{}, fmt.Errorf("account: stored entry mode %q", e.Mode)
}

func (r EntryRule) stored() store.AccountEntry {
	return store.AccountEntry{Mode: r.Mode, Countries: strings.Join(r.Countries, ",")}
}

func (r EntryRule) String() string {
	if len(r.Countries) == 0 {
		return r.Mode
	}
	return r.Mode + " " + strings.Join(r.Countries, ",")
}

// Admit decides whether a participant from country (ISO 3166-1 alpha-2, "" when GeoIP
// does not know it) may enter a meeting of the rule's account. A refusal is an *Error
// whose message says why in plain words, naming the country.
func (r EntryRule) Admit(country string) *Error {
	listed := country != "" && slices.Contains(r.Countries, country)
	switch r.Mode {
	case EntryAllowList:
		if country == "" {
			return &Error{Code: CodeEntryCountryUnknown, Message: "The account that hosts this meeting lets participants join only from " +
				"some countries, and Meridian cannot tell which country your connection comes from, so it cannot let you in. " +
				"Ask the host if you need to join."}
		}
		if !listed {
			return &Error{Code: CodeEntryCountryBlocked, Message: fmt.Sprintf("The account that hosts this meeting lets participants join "+
				"only from some countries, and %s, where your connection comes from, is not one of them. "+
				"Ask the host if you need to join.", countryName(country))}
		}
	case EntryBlockList:
		if listed {
			return &Error{Code: CodeEntryCountryBlocked, Message: fmt.Sprintf("The account that hosts this meeting does not let "+
				"participants join from %s, where your connection comes from. Ask the host if you need to join.", countryName(country))}
		}
	}
	return nil
}

// countryName names a country for people ("Germany", "the United States"), or gives its
// code when it has no English name.
func countryName(code string) string {
	if name, ok := jurisdictionName(code); ok {
		return name
	}
	return code
}

// checkCountry reads an ISO 3166-1 alpha-2 country code as people may type it (" de").
// A code GeoIP never gives is refused, an alias too (UK: GeoIP says GB); XK (Kosovo), a
// user-assigned code, is a country GeoIP gives.
func checkCountry(c string) (string, error) {
	c = strings.ToUpper(strings.TrimSpace(c))
	r, err := language.ParseRegion(c)
	if len(c) != 2 || err != nil || !r.IsCountry() || r.Canonicalize().String() != c {
		return "", invalid(fmt.Sprintf("%q is not an ISO 3166-1 country code, such as DE, JP or US", c))
	}
	return c, nil
}

// EntrySettings is an account's rule as its settings show it.
type EntrySettings struct {
	EntryRule
	// GeoIP: the server has a GeoIP database, so a rule other than off is enforced.
	GeoIP bool
	// CanChange: the principal asking may change the rule (a signed-in owner or admin).
	CanChange bool
}

// Entry returns p's account's rule of entry by country. Anyone of the account may read
// it; an API key needs account:read.
func (s *Service) Entry(ctx context.Context, p Principal) (EntrySettings, error) {
	if !p.Allows(ScopeAccountRead) {
		return EntrySettings{}, forbidden("this API key lacks the scope " + ScopeAccountRead)
	}
	stored, err := s.store.GetAccountEntry(ctx, p.Account.ID)
	if err != nil {
		return EntrySettings{}, err
	}
	r, err := EntryRuleOf(stored)
	if err != nil {
		return EntrySettings{}, err
	}
	return s.entrySettings(p, r), nil
}

func (s *Service) entrySettings(p Principal, r EntryRule) EntrySettings {
	return EntrySettings{EntryRule: r, GeoIP: s.geoIP, CanChange: entryActor(p) == nil}
}

// entryActor decides whether p may change its account's rule of entry: a signed-in owner
// or admin, as for the regions; no API key.
func entryActor(p Principal) *Error {
	if p.ViaAPIKey() {
		return forbidden("an API key cannot change who may enter the account's meetings; an owner or admin signs in to do it")
	}
	switch p.User.Role {
	case RoleOwner, RoleAdmin:
		return nil
	}
	return forbidden("only an account's owner or admins may change from which countries participants may enter its meetings")
}

// SetEntry changes p's account's rule of entry by country: a signed-in owner or admin
// may. The mode must be off, allow_list or block_list, and a list that is on must name a
// country; codes are checked, upper-cased, sorted and deduplicated. A rule other than off
// is refused (geoip_unavailable) on a server without a GeoIP database. Every change and
// refusal is audited, a change with its before and after.
func (s *Service) SetEntry(ctx context.Context, p Principal, in EntryRule) (EntrySettings, error) {
	const action = "account.entry"
	refuse := func(err error) (EntrySettings, error) {
		code, msg := CodeOf(err)
		s.audit(ctx, p.Actor(), action, p.Account.ID, code, msg)
		return EntrySettings{}, err
	}
	if denied := entryActor(p); denied != nil {
		return refuse(denied)
	}
	next := EntryRule{Mode: in.Mode}
	switch in.Mode {
	case EntryOff, EntryAllowList, EntryBlockList:
	default:
		return refuse(invalid(fmt.Sprintf("entry mode %q: want off, allow_list or block_list", in.Mode)))
	}
	if len(in.Countries) > maxEntryCountries {
		return refuse(invalid(fmt.Sprintf("at most %d countries", maxEntryCountries)))
	}
	for _, c := range in.Countries {
		code, err := checkCountry(c)
		if err != nil {
			return refuse(err)
		}
		next.Countries = append(next.Countries, code)
	}
	slices.Sort(next.Countries)
	next.Countries = slices.Compact(next.Countries)
	switch {
	case next.Mode == EntryAllowList && len(next.Countries) == 0:
		return refuse(invalid("an allow-list needs at least one country: with none, nobody could join"))
	case next.Mode == EntryBlockList && len(next.Countries) == 0:
		return refuse(invalid("a block-list needs at least one country to block"))
	case next.Mode != EntryOff && !s.geoIP:
		return refuse(&Error{Code: CodeGeoIPUnavailable, Message: "entry by country needs a GeoIP database on the server " +
			"(geoip_file), and this one has none, so the rule could not be enforced; ask the operator"})
	}
	// Read, decide and write again if another change came in between, so that the
	// audited before is what the change replaced.
	for range 3 {
		stored, err := s.store.GetAccountEntry(ctx, p.Account.ID)
		if err != nil {
			return EntrySettings{}, err
		}
		before, err := EntryRuleOf(stored)
		if err != nil {
			// An unreadable stored rule is replaced: the owner is saying what it is to be.
			s.log.WarnContext(ctx, "replacing an unreadable entry rule", "account", p.Account.ID, "err", err)
			before = EntryRule{Mode: stored.Mode}
		}
		if next.stored() == stored {
			return s.entrySettings(p, next), nil
		}
		err = s.store.UpdateAccountEntry(ctx, p.Account.ID, stored, next.stored())
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return EntrySettings{}, err
		}
		s.audit(ctx, p.Actor(), action, p.Account.ID, "ok", before.String()+" -> "+next.String())
		return s.entrySettings(p, next), nil
	}
	return EntrySettings{}, errors.New("account: the account's entry rule kept changing during the update")
}
