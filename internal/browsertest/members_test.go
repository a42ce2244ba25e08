package browsertest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// An owner of a business account invites a colleague from the settings; the colleague
// opens the mailed link (read from the server's outbox, the mail boundary), chooses a name
// and password, lands signed in, and signs in again later. The owner sees them among the
// members, changes their role and removes them, which signs them out. The link works
// once.
func TestMembersInviteAcceptAndSignIn(t *testing.T) {
	env := newEnv(t)
	owner := newUser(t, env, "owner")
	owner.Navigate("/signup")
	owner.Fill("display_name", "Olga Owner")
	owner.Fill("email", "olga@example.com")
	owner.Fill("password", "correct horse battery staple")
	owner.Fill("account_type", "business")
	owner.Fill("account_name", "Acme")
	owner.Click("form[data-testid=signup-form] button[type=submit]")
	owner.WaitVisible("[data-testid=schedule-form]")

	owner.Navigate("/settings")
	owner.WaitText("[data-testid=member-item]", "Olga Owner")
	owner.FillSelector("[data-testid=invite-form] [name=email]", "bea@example.com")
	owner.FillSelector("[data-testid=invite-form] [name=role]", "admin")
	owner.Click("[data-testid=invite-submit]")
	owner.WaitText("[data-testid=invite-item]", "bea@example.com")
	link := mailedLink(t, env, "bea@example.com")

	bea := newUser(t, env, "bea")
	bea.Navigate(link)
	bea.WaitText("h1", "Join Acme")
	bea.WaitText("[data-testid=invite-summary]", "Olga Owner invited you to Acme on Meridian as an admin")
	if got := bea.Text("[data-testid=accept-form] [name=email]"); got != "bea@example.com" {
		t.Fatalf("the accept form's address is %q", got)
	}
	bea.Fill("display_name", "Bea Admin")
	bea.Fill("password", "another long password")
	bea.Click("form[data-testid=accept-form] button[type=submit]")
	bea.WaitVisible("[data-testid=schedule-form]") // the dashboard, signed in
	bea.Navigate("/settings")
	bea.WaitText("[data-testid=profile-name]", "Bea Admin")
	bea.WaitText("[data-testid=members-card]", "Olga Owner")
	bea.Click("[data-testid=sign-out]")
	bea.WaitVisible("a[href='/signin']")
	bea.Navigate("/signin")
	bea.Fill("email", "bea@example.com")
	bea.Fill("password", "another long password")
	bea.Click("form[data-testid=signin-form] button[type=submit]")
	bea.WaitVisible("[data-testid=schedule-form]")

	// The link works once.
	late := newUser(t, env, "late")
	late.Navigate(link)
	late.WaitVisible("[data-testid=error][data-code=invalid_invite]")

	// The owner sees the new admin, with no invitation left, makes them a member and
	// removes them; they are signed out at once.
	owner.Navigate("/settings")
	item := "[data-testid=member-item][data-role=admin]"
	owner.WaitText(item, "Bea Admin")
	owner.WaitText("[data-testid=invite-list]", "No invitations waiting")
	owner.FillSelector(item+" [data-action=role]", "member")
	owner.WaitText("[data-testid=member-item][data-role=member]", "Bea Admin")
	owner.Click("[data-testid=member-item][data-role=member] [data-action=remove]")
	owner.Click("[data-testid=member-item][data-role=member] [data-action=remove-confirm]")
	owner.WaitCount("[data-testid=member-item]", 1)
	bea.Navigate("/settings")
	bea.WaitVisible("form[data-testid=signin-form]")
}

var inviteLink = regexp.MustCompile(`https?://\S+/accept-invite\?token=[A-Za-z0-9]+`)

// mailedLink waits for the invitation mail to `to` in the server's outbox and returns its
// link.
func mailedLink(t *testing.T, e *env, to string) string {
	t.Helper()
	for deadline := time.Now().Add(defaultTimeout); ; time.Sleep(pollInterval) {
		files, _ := filepath.Glob(filepath.Join(e.DataDir, "outbox", "*.eml"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil || !strings.Contains(string(b), "To: "+to+"\r\n") {
				continue
			}
			if link := inviteLink.FindString(string(b)); link != "" {
				return link
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no invitation to %s in the outbox after %v (%d mails)", to, defaultTimeout, len(files))
		}
	}
}
