package browsertest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A new guest learns from the invitation, before giving a name, which meeting it is and
// whose, and whether it has started; the host, alone in the meeting, is shown how to
// invite people; once the meeting is over the dashboard stops offering its invitation,
// and the invitation says at once that it has ended, offering no Join button to press.
func TestInvitationInTheBrowser(t *testing.T) {
	env := newEnv(t)
	host := newUser(t, env, "host")
	item := signUpAndSchedule(host, "Design review")
	link := host.Attr(item+" [data-testid=invite-link]", "href")
	id := host.Attr(item, "data-meeting-id")
	m, err := env.Server.Store.GetMeeting(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}

	// The dashboard shows the passcode in groups, to read out a piece at a time.
	host.WaitText(item+" [data-testid=passcode]", grouped(m.Passcode))

	guest := newUser(t, env, "guest")
	guest.Navigate(link)
	guest.WaitText("h1", "Design review")
	guest.WaitText("[data-testid=invite-host]", "Hester Host")
	guest.WaitText(`[data-testid=meeting-status][data-status=scheduled]`, "has not started yet")

	// Alone in the meeting, the host sees the link to send (and copies it) and the
	// passcode for joining by id.
	host.Click(item + " [data-testid=start-meeting]")
	host.WaitVisible("[data-testid=invite-card]")
	if got := host.Attr("[data-testid=invite-url]", "value"); got != link {
		t.Fatalf("the invite card offers %q, the dashboard %q", got, link)
	}
	host.WaitText("[data-testid=invite-passcode]", grouped(m.Passcode))
	host.Click("[data-testid=invite-copy]")
	if got := host.Clipboard(); got != link {
		t.Fatalf("copied %q, want %q", got, link)
	}
	guest.Navigate(link) // the guest looks again: it is live now
	guest.WaitVisible(`[data-testid=meeting-status][data-status=live]`)
	guest.Fill("display_name", "Grace Guest")
	guest.Click("[data-testid=join-button]")
	guest.WaitVisible("[data-testid=waiting-room]")
	host.Click("[data-testid=participants-toggle]")
	host.Click("[data-testid=lobby-entry] [data-action=admit]")
	guest.WaitVisible("[data-testid=meeting]")
	host.WaitGone("[data-testid=invite-card]") // no longer alone

	host.Click("[data-testid=end-button]")
	host.Click("[data-testid=end-confirm]")
	host.WaitText("[data-testid=ended]", "ended")
	host.Navigate("/dashboard")
	host.WaitText(item, "Ended")
	if n := host.Count(item + " [data-testid=invite-link]"); n != 0 {
		t.Fatalf("an ended meeting offers %d invite links", n)
	}
	if text := host.Text(item); strings.Contains(text, m.Passcode) || strings.Contains(text, grouped(m.Passcode)) || strings.Contains(text, "Passcode") {
		t.Fatalf("an ended meeting shows its passcode: %q", text)
	}

	// The invitation says it has ended before anyone types a name, and there is no Join
	// to press, before or after.
	late := newUser(t, env, "late")
	late.Navigate(link)
	late.WaitVisible(`[data-testid=error][data-code=meeting_ended]`)
	late.WaitText("h1", "Design review")
	late.WaitFor("the Join button disabled", `document.querySelector("[data-testid=join-button]").disabled`)
	// By id, the passcode given is enough to tell.
	late.Navigate("/join?id=" + id)
	late.Fill("passcode", m.Passcode)
	late.Click("[name=display_name]") // leaving the passcode field
	late.WaitVisible(`[data-testid=error][data-code=meeting_ended]`)
	late.WaitText("h1", "Design review")
	late.WaitFor("the Join button disabled", `document.querySelector("[data-testid=join-button]").disabled`)
}

// A scheduled meeting is edited and then cancelled from the dashboard; its guests are
// told it was cancelled.
func TestEditAndCancelFromTheDashboard(t *testing.T) {
	env := newEnv(t)
	host := newUser(t, env, "host")
	host.Navigate("/signup")
	host.Fill("display_name", "Hester Host")
	host.Fill("email", "hester@example.com")
	host.Fill("password", "correct horse battery staple")
	host.Click("form[data-testid=signup-form] button[type=submit]")
	host.WaitVisible("[data-testid=schedule-form]")
	host.Fill("topic", "Budget")
	day := time.Now().AddDate(0, 1, 0)
	host.Fill("start", day.Format("2006-01-02")+"T09:00")
	host.Click("[data-testid=schedule-submit]")
	item := `[data-testid=meeting-item]`
	host.WaitText(item, "Budget")
	link := host.Attr(item+" [data-testid=invite-link]", "href")
	id := host.Attr(item, "data-meeting-id")

	host.Click(item + " [data-testid=edit-meeting]")
	form := "[data-testid=edit-dialog] "
	host.WaitVisible(form + "[data-testid=edit-form]")
	host.FillSelector(form+"[name=topic]", "Budget, moved")
	moved := day.AddDate(0, 0, 1).Format("2006-01-02") + "T10:30"
	host.FillSelector(form+"[name=start]", moved)
	host.FillSelector(form+"[name=duration]", "30")
	host.FillSelector(form+"[name=recurrence]", "weekly")
	host.FillSelector(form+"[name=time_zone]", "Asia/Tokyo")
	host.FillSelector(form+"[name=use_passcode]", "false")
	host.FillSelector(form+"[name=waiting_room]", "false")
	host.FillSelector(form+"[name=require_sign_in]", "true")
	host.Click(form + "[data-testid=edit-save]")
	host.WaitGone("[data-testid=edit-dialog]")
	host.WaitText(item+" h3", "Budget, moved")
	host.WaitText(item, "Every week")

	m, err := env.Server.Store.GetMeeting(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var start string
	host.Eval(`new Date("`+moved+`").toISOString()`, &start)
	if m.Topic != "Budget, moved" || m.StartsAt.UTC().Format("2006-01-02T15:04:05.000Z") != start || m.DurationMinutes != 30 ||
		m.Recurrence != "weekly" || m.TimeZone != "Asia/Tokyo" || m.Passcode != "" || m.WaitingRoom || !m.RequireSignIn {
		t.Fatalf("after the edit the meeting is %+v (start want %s)", m, start)
	}
	if text := host.Text(item); strings.Contains(text, "Passcode") {
		t.Fatalf("the passcode is off, the list shows %q", text)
	}

	host.Click(item + " [data-testid=cancel-meeting]")
	host.Click("[data-testid=cancel-confirm]")
	host.WaitText(item, "Cancelled")
	if n := host.Count(item + " [data-testid=invite-link]"); n != 0 {
		t.Fatalf("a cancelled meeting offers %d invite links", n)
	}
	if n := host.Count(item+" [data-testid=start-meeting]") + host.Count(item+" [data-testid=edit-meeting]"); n != 0 {
		t.Fatalf("a cancelled meeting offers %d start or edit buttons", n)
	}
	if m, _ := env.Server.Store.GetMeeting(t.Context(), id); m.Status != "cancelled" {
		t.Fatalf("status %q after cancelling", m.Status)
	}

	guest := newUser(t, env, "guest")
	guest.Navigate(link)
	guest.WaitText(`[data-testid=error][data-code=meeting_cancelled]`, "cancelled")
	guest.WaitText("h1", "Budget, moved")
	guest.WaitFor("the Join button disabled", `document.querySelector("[data-testid=join-button]").disabled`)
}

// A passcode read out over the phone is typed on one as heard: in lower case (a phone's
// keyboard starts so), with spaces or dashes between its groups. The join page takes it
// as it is typed: it names the meeting and its host at once and lets the guest in to wait
// for the host. When the host then cancels the meeting, the waiting guest is told so and
// offered no Join to press.
func TestPasscodeTypedAsReadOutAndACancelledWait(t *testing.T) {
	env := newEnv(t)
	host := newUser(t, env, "host")
	item := signUpAndSchedule(host, "Quarterly call")
	id := host.Attr(item, "data-meeting-id")
	m, err := env.Server.Store.GetMeeting(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	shown := host.WaitText(item+" [data-testid=passcode]", grouped(m.Passcode))
	if strings.ContainsAny(shown, "0O1IL2Z5S8BUVDQG") {
		t.Fatalf("the dashboard shows the passcode %q with look-alike characters", shown)
	}

	guest := newUser(t, env, "guest")
	phone(guest)
	guest.Navigate("/join?id=" + host.Attr(item, "data-meeting-id"))
	heard := strings.ToLower(strings.ReplaceAll(grouped(m.Passcode), "-", " "))
	guest.Type("[name=passcode]", heard)
	guest.Click("[name=display_name]") // leaving the passcode field
	guest.WaitText("h1", "Quarterly call")
	guest.WaitText("[data-testid=invite-host]", "Hester Host")
	guest.WaitVisible(`[data-testid=meeting-status][data-status=scheduled]`)
	guest.Fill("display_name", "Grace Guest")
	guest.Click("[data-testid=join-button]")
	guest.WaitText("[data-testid=waiting-room]", "Waiting for the host")

	host.Click(item + " [data-testid=cancel-meeting]")
	host.Click("[data-testid=cancel-confirm]")
	host.WaitText(item, "Cancelled")
	guest.WaitText(`[data-testid=error][data-code=meeting_cancelled]`, "cancelled")
	guest.WaitGone("[data-testid=waiting-room]")
	guest.WaitFor("the Join button disabled", `document.querySelector("[data-testid=join-button]").disabled`)
}

// grouped is a passcode as the pages show it: in groups of four, joined by dashes.
func grouped(p string) string {
	var b strings.Builder
	for i, r := range p {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// On a phone the chat takes the stage's place, not the controls': with it open, Mute and
// Leave are still on screen and clickable, a toast does not cover the message box, and a
// chat message's toast does not offer to open the chat once it is open.
func TestPhoneChatKeepsControlsInReach(t *testing.T) {
	env := newEnv(t)
	host := newUser(t, env, "host")
	phone(host)
	item := signUpAndSchedule(host, "Pocket meeting")
	link := host.Attr(item+" [data-testid=invite-link]", "href")
	host.Click(item + " [data-testid=start-meeting]")
	host.WaitVisible("[data-testid=meeting]")

	guest := newUser(t, env, "guest")
	guest.Navigate(link)
	guest.Fill("display_name", "Grace Guest")
	guest.Click("[data-testid=join-button]")
	guest.WaitVisible("[data-testid=waiting-room]")
	host.Click("[data-testid=participants-toggle]")
	host.Click("[data-testid=lobby-entry] [data-action=admit]")
	guest.WaitVisible("[data-testid=meeting]")
	host.Click("[data-testid=participants-toggle]") // closes the people panel

	guest.Click("[data-testid=chat-toggle]")
	guest.Type("[data-testid=chat-input]", "Hello from the desk\n")
	host.WaitText(".toast", "Open chat")
	host.Click("[data-testid=chat-toggle]")
	var offers int
	host.Eval(`[...document.querySelectorAll(".toast button")].filter(b => b.textContent.includes("Open chat")).length`, &offers)
	if offers != 0 {
		t.Fatalf("with the chat open, %d toasts offer to open the chat", offers)
	}
	host.WaitText("[data-testid=chat-message]", "Hello from the desk")
	for _, sel := range []string{"[data-testid=mic-toggle]", "[data-testid=leave-button]", "[data-testid=chat-input]", "[data-testid=chat-toggle]"} {
		reachable(host, sel)
	}

	// Someone knocks while the chat is open: the toast says so above the message box.
	late := newUser(t, env, "late")
	late.Navigate(link)
	late.Fill("display_name", "Larry Late")
	late.Click("[data-testid=join-button]")
	host.WaitText(".toast", "waiting to join")
	var overlap string
	host.Eval(`(() => {
		const input = document.querySelector("[data-testid=chat-input]").getBoundingClientRect();
		const toasts = [...document.querySelectorAll(".toast")];
		if (!toasts.length) return "no toast";
		return toasts.some(el => {
			const r = el.getBoundingClientRect();
			return r.left < input.right && input.left < r.right && r.top < input.bottom && input.top < r.bottom;
		}) ? "overlap" : "";
	})()`, &overlap)
	if overlap != "" {
		t.Fatalf("the toast and the chat's message box: %s", overlap)
	}
	reachable(host, "[data-testid=chat-input]")
	for _, sel := range []string{"[data-testid=mic-toggle]", "[data-testid=leave-button]"} {
		reachable(host, sel)
	}
	host.Type("[data-testid=chat-input]", "Hi from the phone\n")
	guest.WaitText("[data-testid=chat-message]", "Hi from the phone")
	screenshot(host, "phone-chat.png")
	host.Click("[data-testid=mic-toggle]")
	host.WaitFor("the microphone muted", `document.querySelector("[data-testid=mic-toggle]").dataset.state === "off"`)
}

// phone makes the user's tab a phone's: 390x844 CSS pixels, touch, mobile.
func phone(u *user) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, u.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)); err != nil {
		u.fatalf("emulate a phone: %v", err)
	}
}

// reachable stops the test unless the element sel is on screen now, without scrolling,
// and the topmost element at its centre (what a tap there hits) is it or inside it. It
// looks once: a wait would let a toast that covers it time out first.
func reachable(u *user, sel string) {
	u.t.Helper()
	q, _ := json.Marshal(sel)
	var problem string
	u.Eval(`(() => {
		const el = [...document.querySelectorAll(`+string(q)+`)].find(e => e.getClientRects().length);
		if (!el) return "no visible element matches";
		const r = el.getBoundingClientRect();
		if (r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) return "off screen at " + JSON.stringify(r);
		const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		if (!hit || !(hit === el || el.contains(hit))) return "covered by " + (hit ? hit.outerHTML.slice(0, 120) : "nothing");
		return "";
	})()`, &problem)
	if problem != "" {
		u.fatalf("%s is not reachable: %s", sel, problem)
	}
}

// screenshot saves what the user's screen shows (the viewport) under the test's artifacts
// and logs where, for a person to look at.
func screenshot(u *user, name string) {
	u.t.Helper()
	dir, err := artifactDir(u.t, "")
	if err != nil {
		u.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(u.ctx, u.Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), png, 0o644)
	}
	if err != nil {
		u.fatalf("screenshot: %v", err)
	}
	u.t.Logf("%s: screenshot %s", u.name, filepath.Join(dir, name))
}
