package server_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/server/servertest"
)

// A business account homed in eu-central is managed through a node of us-west: an
// address with an account in us-west is not invited (one address, one account, across the
// deployment); the invitation is mailed by the home region; its link is accepted through
// us-west and the member lands in eu-central's store, signs in through us-west, and holds
// the address deployment-wide until removed.
func TestMembersAcrossRegions(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{Regions: []string{"us-west:US", "eu-central:EU"}})
	us, eu := d.Region("us-west")[0], d.Region("eu-central")[0]
	waitReplicating(t, d)

	signUp := func(b *webClient, email, home, kind string) (status int, code string) {
		var sess struct {
			CSRFToken string `json:"csrf_token"`
		}
		status, code = b.call(us, "POST", "/api/signup", map[string]any{
			"account_type": kind, "account_name": "Acme", "email": email, "display_name": "Someone",
			"password": "correct horse battery", "home_region": home,
		}, &sess)
		b.csrf = sess.CSRFToken
		return status, code
	}
	owner := newWebClient(t)
	if got, code := signUp(owner, "olga@example.test", "eu-central", "business"); got != http.StatusCreated {
		t.Fatalf("owner's sign-up: %d %s", got, code)
	}
	if got, code := signUp(newWebClient(t), "taken@example.test", "us-west", "individual"); got != http.StatusCreated {
		t.Fatalf("other sign-up: %d %s", got, code)
	}
	eventually(t, 10*time.Second, "the us-west address refused as an invitee", func() bool {
		got, code := owner.call(us, "POST", "/api/account/invites", map[string]any{"email": "taken@example.test", "role": "member"}, nil)
		return got == http.StatusConflict && code == "email_taken"
	})

	owner.must(http.StatusCreated, us, "POST", "/api/account/invites", map[string]any{"email": "bea@example.test", "role": "admin"}, nil)
	re := regexp.MustCompile(`/accept-invite\?token=([A-Z2-7]+)`)
	var token string
	eventually(t, 10*time.Second, "the invitation mail in eu-central's outbox", func() bool {
		for _, m := range outbox(t, d, "eu-central") {
			if sub := re.FindStringSubmatch(m); sub != nil && strings.Contains(m, "To: bea@example.test") {
				token = sub[1]
				return true
			}
		}
		return false
	})
	for _, m := range outbox(t, d, "us-west") {
		if strings.Contains(m, "bea@example.test") {
			t.Fatal("us-west mailed the invitation of an eu-central account")
		}
	}

	bea := newWebClient(t)
	var info struct {
		AccountName string `json:"account_name"`
	}
	bea.must(http.StatusOK, us, "POST", "/api/invites/lookup", map[string]any{"token": token}, &info)
	var sess struct {
		CSRFToken string `json:"csrf_token"`
		User      struct{ ID, Role, Region string }
		Account   struct{ Region string }
	}
	bea.must(http.StatusCreated, us, "POST", "/api/invites/accept", map[string]any{
		"token": token, "display_name": "Bea", "password": "another horse battery"}, &sess)
	if info.AccountName != "Acme" || sess.Account.Region != "eu-central" || sess.User.Role != "admin" {
		t.Fatalf("accepted %+v into %q", sess, info.AccountName)
	}
	for region, want := range map[string]int{"eu-central": 1, "us-west": 0} {
		var n int
		if err := openRegionDB(t, d, region).QueryRow(`SELECT count(*) FROM users WHERE email = 'bea@example.test'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("%s's store has %d users of the address, want %d", region, n, want)
		}
	}
	newWebClient(t).must(http.StatusOK, us, "POST", "/api/signin", map[string]any{"email": "bea@example.test", "password": "another horse battery"}, nil)
	// Polled through us-west's account service, each try from its own address: what is
	// polled is the directory, not the sign-up limit per client address.
	attempt := 0
	usSignUp := func(email string) string {
		attempt++
		_, _, err := us.Accounts.SignUp(t.Context(), account.SignUpInput{AccountType: account.TypeIndividual, Email: email,
			DisplayName: "Someone", Password: "correct horse battery", HomeRegion: "us-west",
			ClientIP: fmt.Sprintf("198.51.100.%d", attempt%250+1)})
		code, _ := account.CodeOf(err)
		if err == nil {
			code = "ok"
		}
		return code
	}
	// The sign-in through us-west found the address's home in us-west's view of the
	// directory, so the first try already sees it.
	if code := usSignUp("bea@example.test"); code != account.CodeEmailTaken {
		t.Fatalf("a sign-up in us-west with the member's address: %s, want email_taken", code)
	}

	// Removed, the address is free again across the deployment.
	owner.must(http.StatusNoContent, eu, "DELETE", "/api/account/members/"+sess.User.ID, nil, nil)
	eventually(t, 10*time.Second, "the removed member's address free in us-west", func() bool {
		return usSignUp("bea@example.test") == "ok"
	})
}
