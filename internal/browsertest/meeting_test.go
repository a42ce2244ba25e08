package browsertest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The whole meeting in real browsers, as people use it: a host signs up and schedules a
// meeting; a guest opens the invite, waits in the waiting room and is admitted; each sees
// the other's video playing and hears the other; chat goes both ways; a screen share shows
// on the other side; the host removes the guest, who cannot come back; the host ends the
// meeting.
func TestMeetingInTheBrowser(t *testing.T) {
	env := newEnv(t)
	host := newUser(t, env, "host")
	item := signUpAndSchedule(host, "Design review")
	link := host.Attr(item+" [data-testid=invite-link]", "href")
	if !strings.Contains(link, "/j/") {
		t.Fatalf("invite link %q", link)
	}
	host.Click(item + " [data-testid=start-meeting]")
	host.WaitVisible("[data-testid=meeting]")
	hostID := host.Attr("[data-testid=tile][data-self=true]", "data-participant-id")

	guest := newUser(t, env, "guest")
	guest.Navigate(link)
	guest.VideoPlaying("video[data-testid=preview]") // the camera preview on the join page
	guest.Fill("display_name", "Grace Guest")
	guest.Click("[data-testid=join-button]")
	guest.WaitVisible("[data-testid=waiting-room]")

	// Nobody in the waiting room receives media: the guest's page has no connection that
	// receives anything while the host's meeting goes on.
	host.Click("[data-testid=participants-toggle]")
	host.WaitText("[data-testid=lobby-entry]", "Grace Guest")
	if n := inboundStreams(guest); n != 0 {
		t.Fatalf("the waiting guest receives %d media streams", n)
	}
	host.Click("[data-testid=lobby-entry] [data-action=admit]")
	guest.WaitVisible("[data-testid=meeting]")
	guestID := guest.Attr("[data-testid=tile][data-self=true]", "data-participant-id")

	camera := func(id string) string {
		return `[data-testid=tile][data-participant-id="` + id + `"] video[data-source=camera]`
	}
	host.VideoPlaying(camera(guestID))
	guest.VideoPlaying(camera(hostID))
	host.AudioLevelAboveZero()
	guest.AudioLevelAboveZero()
	// Chromium decrypts what the SFU seals itself: both subscriber connections are on the
	// direct send path.
	if got := scrapeMetric(t, env.URL, `meridian_sfu_subscriber_connections_total{path="direct"}`); got != "2" {
		t.Errorf("subscriber connections on the direct send path: %q, want 2", got)
	}

	// Chat both ways.
	host.Click("[data-testid=chat-toggle]")
	guest.Click("[data-testid=chat-toggle]")
	host.Type("[data-testid=chat-input]", "Welcome, Grace\n")
	guest.WaitText("[data-testid=chat-message]", "Welcome, Grace")
	guest.Type("[data-testid=chat-input]", "Thanks, Hester")
	guest.Click("[data-testid=chat-send]")
	host.WaitText("[data-testid=chat-message]", "Thanks, Hester")

	// The guest shares their screen; the host sees it as its own picture.
	guest.Click("[data-testid=screen-toggle]")
	host.VideoPlaying(`[data-testid=tile][data-participant-id="` + guestID + `"][data-source=screen] video`)

	// The host removes the guest, who is told so and cannot come back with the link.
	host.Click("[data-testid=participants-toggle]")
	host.WaitVisible(`[data-testid=participant][data-participant-id="` + guestID + `"]`)
	host.Click(`[data-testid=participant][data-participant-id="` + guestID + `"] [data-action=remove]`)
	guest.WaitText("[data-testid=ended]", "removed")
	host.WaitGone(`[data-testid=tile][data-participant-id="` + guestID + `"]`)
	guest.Navigate(link)
	guest.Fill("display_name", "Grace Guest")
	guest.Click("[data-testid=join-button]")
	guest.WaitText("[data-testid=error]", "removed")

	// The host ends the meeting for everyone; the invite then says so, at once.
	host.Click("[data-testid=end-button]")
	host.Click("[data-testid=end-confirm]")
	host.WaitText("[data-testid=ended]", "ended")
	late := newUser(t, env, "late")
	late.Navigate(link)
	late.WaitText("[data-testid=error]", "ended")
}

// signUpAndSchedule signs the host up on the sign-up page and schedules a meeting with the
// given topic on the dashboard, with the defaults (waiting room and passcode on). It
// returns the selector of the meeting's entry in the dashboard's list.
func signUpAndSchedule(host *user, topic string) string {
	host.Navigate("/signup")
	host.Fill("display_name", "Hester Host")
	host.Fill("email", "hester@example.com")
	host.Fill("password", "correct horse battery staple")
	host.Click("form[data-testid=signup-form] button[type=submit]")
	host.WaitVisible("[data-testid=schedule-form]")
	host.Fill("topic", topic)
	host.Click("[data-testid=schedule-submit]")
	item := `[data-testid=meeting-item]`
	host.WaitText(item, topic)
	return item
}

// inboundStreams counts the media streams a page's connections receive.
func inboundStreams(u *user) int {
	n := 0
	for _, pc := range u.RTCStats() {
		n += len(pc.Inbound)
	}
	return n
}

// Refusals say what happened and what to do: a wrong passcode, then a meeting the host has
// not started, which the join page waits for and enters as soon as the host starts it.
func TestJoinRefusalsInTheBrowser(t *testing.T) {
	env := newEnv(t)
	host := newUser(t, env, "host")
	item := signUpAndSchedule(host, "Office hours")
	id := host.Attr(item, "data-meeting-id")
	m, err := env.Server.Store.GetMeeting(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}

	guest := newUser(t, env, "guest")
	guest.Navigate("/join?id=" + id)
	guest.Fill("display_name", "Grace Guest")
	guest.Fill("passcode", "not-the-passcode")
	guest.Click("[data-testid=join-button]")
	guest.WaitText("[data-testid=error]", "passcode does not match")

	guest.Fill("passcode", m.Passcode)
	guest.Click("[data-testid=join-button]")
	guest.WaitText("[data-testid=waiting-room]", "has not started")

	host.Click(item + " [data-testid=start-meeting]")
	host.WaitVisible("[data-testid=meeting]")
	guest.WaitText("[data-testid=waiting-room]", "let you in") // now in the host's waiting room
	host.Click("[data-testid=participants-toggle]")
	host.WaitText("[data-testid=lobby-entry]", "Grace Guest")

	// Turned away, the guest stays out: a new ticket from the same browser is refused at
	// the room's door (denied), and the page says so instead of hanging.
	host.Click("[data-testid=lobby-entry] [data-action=deny]")
	guest.WaitVisible("[data-testid=ended][data-reason=denied]")
	guest.Navigate("/join?id=" + id)
	guest.Fill("display_name", "Grace Guest")
	guest.Fill("passcode", m.Passcode)
	guest.Click("[data-testid=join-button]")
	guest.WaitVisible("[data-testid=ended][data-reason=denied]")
}

// scrapeMetric returns a sample's value as the server's /metrics shows it, or "" if absent.
func scrapeMetric(t *testing.T, baseURL, sample string) string {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), sample+" "); ok {
			return v
		}
	}
	return ""
}
