package browsertest

import (
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/geoip/geoiptest"
)

// Entry by country in the browser: the owner blocks Germany in the settings, where the
// card says what it does; a guest whose address GeoIP places in Germany (the test's
// database puts all of loopback there) is told, in plain words, that the host's account
// does not let participants join from Germany. Turned off, the same guest gets in.
func TestEntryByCountryInTheBrowser(t *testing.T) {
	geo := geoiptest.File(t, geoiptest.Entry{Network: "127.0.0.0/8", Country: "DE"})
	env := newEnv(t, func(c *config.Config) { c.GeoIPFile = geo })
	host := newUser(t, env, "host")
	host.Navigate("/signup")
	host.Fill("display_name", "Hester Host")
	host.Fill("email", "hester@example.com")
	host.Fill("password", "correct horse battery staple")
	host.Click("form[data-testid=signup-form] button[type=submit]")
	host.WaitVisible("[data-testid=schedule-form]")
	host.Fill("topic", "Board meeting")
	host.Click("[name=join_before_host]")
	host.Click("[data-testid=schedule-submit]")
	item := `[data-testid=meeting-item]`
	host.WaitText(item, "Board meeting")
	link := host.Attr(item+" [data-testid=invite-link]", "href")

	host.Navigate("/settings")
	host.WaitText("[data-testid=entry-card]", "Choose from which countries people may join your meetings")
	host.WaitText("[data-testid=entry-summary]", "Anyone may join")
	host.Fill("mode", "block_list")
	host.Fill("countries", "de")
	host.Click("[data-testid=entry-save]")
	host.WaitText("[data-testid=entry-summary]", "Participants connecting from Germany cannot join")

	guest := newUser(t, env, "guest")
	guest.Navigate(link)
	guest.WaitText("h1", "Board meeting")
	guest.Fill("display_name", "Grace Guest")
	guest.Click("[data-testid=join-button]")
	text := guest.WaitText("[data-testid=error]", "Germany")
	if !strings.Contains(text, "does not let participants join from Germany, where your connection comes from") ||
		!strings.Contains(text, "Ask the host") || strings.Contains(text, "reload") {
		t.Errorf("the refusal reads %q", text)
	}
	if got := guest.Attr("[data-testid=error]", "data-code"); got != "entry_country_blocked" {
		t.Errorf("error code %q", got)
	}

	host.Fill("mode", "off")
	host.Click("[data-testid=entry-save]")
	host.WaitText("[data-testid=entry-summary]", "Anyone may join")
	guest.Click("[data-testid=join-button]")
	guest.WaitVisible("[data-testid=waiting-room]")
}
