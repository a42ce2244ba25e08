package meeting

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

func (f *fixture) setEntry(t *testing.T, a store.Account, e store.AccountEntry) {
	t.Helper()
	before, err := f.st.GetAccountEntry(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpdateAccountEntry(t.Context(), a.ID, before, e); err != nil {
		t.Fatal(err)
	}
}

func wantRefusal(t *testing.T, err error, code, says string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code || !strings.Contains(e.Message, says) {
		t.Fatalf("got %v, want %s saying %q", err, code, says)
	}
}

// A block-list keeps out guests and signed-in participants from its countries, lets in
// those of unknown country; an allow-list lets in only its own, and fails closed on an
// unknown country. Each refusal is audited with the country.
func TestEntryByCountry(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	off := false
	m := f.schedule(t, ScheduleInput{Passcode: &off, WaitingRoom: &off})
	f.start(t, m.ID)
	bob := f.newAccount(t, "bob@example.com", account.Free)
	join := func(country string, who *account.Principal) error {
		_, err := f.svc.Join(t.Context(), JoinInput{MeetingID: m.ID, DisplayName: "P", ClientIP: "192.0.2.7", Country: country, Principal: who})
		return err
	}

	f.setEntry(t, f.host.Account, store.AccountEntry{Mode: account.EntryBlockList, Countries: "DE,KP"})
	wantRefusal(t, join("DE", nil), account.CodeEntryCountryBlocked, "does not let participants join from Germany")
	wantRefusal(t, join("KP", &bob), account.CodeEntryCountryBlocked, "North Korea")
	for _, c := range []string{"FR", ""} {
		if err := join(c, nil); err != nil {
			t.Fatalf("a guest from %q: %v", c, err)
		}
	}

	f.setEntry(t, f.host.Account, store.AccountEntry{Mode: account.EntryAllowList, Countries: "FR"})
	wantRefusal(t, join("", nil), account.CodeEntryCountryUnknown, "cannot tell which country")
	wantRefusal(t, join("", &bob), account.CodeEntryCountryUnknown, "cannot tell which country")
	wantRefusal(t, join("DE", nil), account.CodeEntryCountryBlocked, "Germany, where your connection comes from, is not one of them")
	if err := join("FR", &bob); err != nil {
		t.Fatal(err)
	}

	f.setEntry(t, f.host.Account, store.AccountEntry{Mode: account.EntryOff, Countries: "FR"})
	if err := join("", nil); err != nil {
		t.Fatal(err)
	}
	got := f.outcomes(t, m.ID, "meeting.join")
	got = slices.DeleteFunc(got, func(o string) bool { return !strings.HasPrefix(o, "entry_") })
	want := []string{"entry_country_blocked", "entry_country_blocked", "entry_country_blocked", "entry_country_unknown", "entry_country_unknown"}
	if !slices.Equal(got, want) {
		t.Fatalf("audited %v, want %v", got, want)
	}
}

// The host is a participant too: their account's rule applies when they start or join
// their own meeting, and a refused start leaves the meeting as it was.
func TestEntryByCountryHoldsForTheHost(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	m := f.schedule(t, ScheduleInput{})
	f.setEntry(t, f.host.Account, store.AccountEntry{Mode: account.EntryAllowList, Countries: "FR"})
	_, err := f.svc.StartFrom(t.Context(), f.host, m.ID, "DE", topology.Origin{})
	wantRefusal(t, err, account.CodeEntryCountryBlocked, "Germany")
	_, err = f.svc.Join(t.Context(), JoinInput{MeetingID: m.ID, Passcode: m.Passcode, Principal: &f.host, Country: "DE"})
	wantRefusal(t, err, account.CodeEntryCountryBlocked, "Germany")
	if sm, _ := f.st.GetMeeting(t.Context(), m.ID); sm.Status != store.MeetingScheduled {
		t.Fatalf("a refused start left the meeting %s", sm.Status)
	}
	// Joining their own meeting, the host starts it: both are audited as starts.
	if got := f.outcomes(t, m.ID, "meeting.start"); !slices.Equal(got, []string{"entry_country_blocked", "entry_country_blocked"}) {
		t.Fatalf("start audited %v", got)
	}
	if _, err := f.svc.StartFrom(t.Context(), f.host, m.ID, "FR", topology.Origin{}); err != nil {
		t.Fatal(err)
	}
}

// policy.Enter is asked with the participant's GeoIP country; without one, with a
// signed-in participant's account country, as before GeoIP.
func TestEnterPolicyTakesTheGeoIPCountry(t *testing.T) {
	p, err := policy.Load("entry.yaml", []byte(`version: "entry.1"
jurisdictions:
  - code: EU
    name: European Union
    countries: [DE, FR]
rules:
  - id: de-enter-closed
    jurisdiction: EU
    question: enter
    effect: deny
    effective_from: 2020-01-01
    condition: facts.participant_country == "DE"
    reason_code: entry_closed_de
    message: Participants in Germany cannot join meetings.
`))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOpts{policy: policy.NewHolder(p)})
	off := false
	m := f.schedule(t, ScheduleInput{Passcode: &off, WaitingRoom: &off})
	f.start(t, m.ID)
	us := f.newAccount(t, "us@example.com", account.Free)
	da, du, err := f.st.CreateAccountWithOwner(t.Context(), store.Account{Type: account.TypeIndividual, Name: "De", Plan: string(account.Free), Country: "DE"},
		store.User{Email: "de@example.com", DisplayName: "De", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	de := account.Principal{Account: da, User: du}
	join := func(country string, who *account.Principal) error {
		_, err := f.svc.Join(t.Context(), JoinInput{MeetingID: m.ID, DisplayName: "P", Country: country, Principal: who})
		return err
	}
	wantRefusal(t, join("DE", nil), "entry_closed_de", "Participants in Germany cannot join meetings")
	wantRefusal(t, join("DE", &us), "entry_closed_de", "de-enter-closed")
	wantRefusal(t, join("", &de), "entry_closed_de", "de-enter-closed")
	for _, c := range []struct {
		country string
		who     *account.Principal
	}{{"FR", nil}, {"", nil}, {"FR", &de}, {"", &us}} {
		if err := join(c.country, c.who); err != nil {
			t.Fatalf("from %q: %v", c.country, err)
		}
	}
}

// Placement counts a participant as in the jurisdiction of their GeoIP country: the
// policy's, or else the country's own code (which regions may name).
func TestOriginFromCountry(t *testing.T) {
	p, err := policy.Load("j.yaml", []byte("version: \"j.1\"\njurisdictions:\n  - code: EU\n    name: European Union\n    countries: [DE, FR]\n"))
	if err != nil {
		t.Fatal(err)
	}
	withPolicy := newFixture(t, fixtureOpts{policy: policy.NewHolder(p)})
	without := newFixture(t, fixtureOpts{})
	tokyo := &topology.LatLng{Lat: 35.7, Lng: 139.7}
	for _, c := range []struct {
		f       *fixture
		country string
		from    topology.Origin
		want    topology.Origin
	}{
		{withPolicy, "DE", topology.Origin{}, topology.Origin{Jurisdiction: "EU"}},
		{withPolicy, "US", topology.Origin{}, topology.Origin{Jurisdiction: "US"}},
		{without, "DE", topology.Origin{}, topology.Origin{Jurisdiction: "DE"}},
		{without, "", topology.Origin{Region: "us-west"}, topology.Origin{Region: "us-west"}},
		{withPolicy, "FR", topology.Origin{Location: tokyo}, topology.Origin{Location: tokyo, Jurisdiction: "EU"}},
		{withPolicy, "FR", topology.Origin{Jurisdiction: "JP"}, topology.Origin{Jurisdiction: "JP"}},
	} {
		if got := c.f.svc.origin(c.country, c.from); got != c.want {
			t.Errorf("%q from %+v: %+v, want %+v", c.country, c.from, got, c.want)
		}
	}
}
