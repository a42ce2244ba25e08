package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// inviteToken reads the token of the invitation mailed to email.
func (f *apiFixture) inviteToken(t *testing.T, email string, n int) string {
	t.Helper()
	for _, m := range f.mail.wait(t, n) {
		if m.To != email {
			continue
		}
		for _, field := range strings.Fields(m.Body) {
			if u, err := url.Parse(field); err == nil && strings.HasPrefix(field, "https://meet.example/accept-invite?") {
				return u.Query().Get("token")
			}
		}
	}
	t.Fatalf("no invitation to %s in %v", email, f.mail.sent())
	return ""
}

type membersReply struct {
	Members []struct {
		ID, Email, Role string
		DisplayName     string `json:"display_name"`
	}
}

func (f *apiFixture) members(t *testing.T, s session) membersReply {
	t.Helper()
	r := f.call(t, "GET", "/api/account/members", "", s.auth(false)...)
	if r.status != http.StatusOK {
		t.Fatalf("members: %d %s", r.status, r.body)
	}
	var out membersReply
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The members routes end to end: an invitation by the owner, its lookup and acceptance
// through the public routes (which sign the member in), role changes, a refused change of
// the owner, ownership transferred with the password, and a removal that signs the
// member out.
func TestMembersAPI(t *testing.T) {
	f := newAPI(t, false)
	owner := f.signUp(t)

	r := f.call(t, "POST", "/api/account/invites", `{"email":"bea@example.com","role":"member"}`, owner.auth(true)...)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"email":"bea@example.com"`) || strings.Contains(string(r.body), "token") {
		t.Fatalf("invite: %d %s", r.status, r.body)
	}
	var created struct{ Invite struct{ ID string } }
	_ = json.Unmarshal(r.body, &created)
	if r := f.call(t, "POST", "/api/account/invites", `{"email":"bea@example.com","role":"owner"}`, owner.auth(true)...); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
		t.Fatalf("invite as owner: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/account/invites", `{"email":"ada@example.com","role":"member"}`, owner.auth(true)...); r.status != http.StatusConflict || r.code(t) != "already_member" {
		t.Fatalf("invite of a member: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/account/invites", "", owner.auth(false)...); r.status != http.StatusOK || !strings.Contains(string(r.body), created.Invite.ID) {
		t.Fatalf("list invites: %d %s", r.status, r.body)
	}
	token := f.inviteToken(t, "bea@example.com", 1)

	r = f.call(t, "POST", "/api/invites/lookup", `{"token":"`+token+`"}`)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"account_name":"Acme"`) || !strings.Contains(string(r.body), `"invited_by":"Ada"`) {
		t.Fatalf("lookup: %d %s", r.status, r.body)
	}
	r = f.call(t, "POST", "/api/invites/accept", `{"token":"`+token+`","display_name":"Bea","password":"correct horse battery"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("accept: %d %s", r.status, r.body)
	}
	var accepted struct {
		CSRFToken string `json:"csrf_token"`
		User      struct{ ID, Role string }
		Account   struct{ Name string }
	}
	_ = json.Unmarshal(r.body, &accepted)
	if accepted.User.Role != "member" || accepted.Account.Name != "Acme" {
		t.Fatalf("accepted: %s", r.body)
	}
	c := r.cookie(t)
	bea := session{cookie: c.Name + "=" + c.Value, csrf: accepted.CSRFToken}
	if r := f.call(t, "POST", "/api/invites/accept", `{"token":"`+token+`","display_name":"Eve","password":"correct horse battery"}`); r.status != http.StatusBadRequest || r.code(t) != "invalid_invite" {
		t.Fatalf("second acceptance: %d %s", r.status, r.body)
	}

	// A member sees the members but manages nothing.
	if ms := f.members(t, bea); len(ms.Members) != 2 || ms.Members[0].Role != "owner" || ms.Members[1].DisplayName != "Bea" {
		t.Fatalf("members: %+v", ms)
	}
	ownerID := f.members(t, owner).Members[0].ID
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/account/invites", `{"email":"cy@example.com","role":"member"}`},
		{"PATCH", "/api/account/members/" + ownerID, `{"role":"member"}`},
		{"DELETE", "/api/account/members/" + ownerID, ""},
		{"POST", "/api/account/owner", `{"user_id":"` + accepted.User.ID + `","password":"correct horse battery"}`},
	} {
		if r := f.call(t, c.method, c.path, c.body, bea.auth(true)...); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
			t.Errorf("a member's %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if r := f.call(t, "GET", "/api/account/invites", "", bea.auth(false)...); r.status != http.StatusForbidden {
		t.Fatalf("a member lists invites: %d %s", r.status, r.body)
	}

	// Roles; the owner is protected.
	r = f.call(t, "PATCH", "/api/account/members/"+accepted.User.ID, `{"role":"admin"}`, owner.auth(true)...)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"role":"admin"`) {
		t.Fatalf("promote: %d %s", r.status, r.body)
	}
	if r := f.call(t, "PATCH", "/api/account/members/"+ownerID, `{"role":"member"}`, bea.auth(true)...); r.status != http.StatusConflict || r.code(t) != "owner_protected" {
		t.Fatalf("an admin demotes the owner: %d %s", r.status, r.body)
	}
	if r := f.call(t, "DELETE", "/api/account/members/"+ownerID, "", bea.auth(true)...); r.status != http.StatusConflict || r.code(t) != "owner_protected" {
		t.Fatalf("an admin removes the owner: %d %s", r.status, r.body)
	}
	if r := f.call(t, "PATCH", "/api/account/members/nobody", `{"role":"member"}`, owner.auth(true)...); r.status != http.StatusNotFound {
		t.Fatalf("unknown member: %d %s", r.status, r.body)
	}

	// Ownership, with the owner's password.
	if r := f.call(t, "POST", "/api/account/owner", `{"user_id":"`+accepted.User.ID+`","password":"not the password"}`, owner.auth(true)...); r.status != http.StatusUnauthorized || r.code(t) != "invalid_credentials" {
		t.Fatalf("transfer with a wrong password: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/account/owner", `{"user_id":"`+accepted.User.ID+`","password":"correct horse battery"}`, owner.auth(true)...); r.status != http.StatusNoContent {
		t.Fatalf("transfer: %d %s", r.status, r.body)
	}
	if ms := f.members(t, owner); ms.Members[0].ID != accepted.User.ID || ms.Members[1].Role != "admin" {
		t.Fatalf("after the transfer: %+v", ms)
	}

	// The new owner removes Ada, who is signed out at once.
	if r := f.call(t, "DELETE", "/api/account/members/"+ownerID, "", bea.auth(true)...); r.status != http.StatusNoContent {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/me", "", owner.auth(false)...); r.status != http.StatusUnauthorized {
		t.Fatalf("the removed member's session: %d %s", r.status, r.body)
	}
}

// An individual account has no members to invite; a key acts within its members scopes.
func TestMembersAPIRefusals(t *testing.T) {
	f := newAPI(t, false)
	r := f.call(t, "POST", "/api/signup", `{"account_type":"individual","email":"ivy@example.com","display_name":"Ivy","password":"correct horse battery"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("sign-up: %d %s", r.status, r.body)
	}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	_ = json.Unmarshal(r.body, &out)
	c := r.cookie(t)
	ivy := session{cookie: c.Name + "=" + c.Value, csrf: out.CSRFToken}
	if r := f.call(t, "POST", "/api/account/invites", `{"email":"bea@example.com","role":"member"}`, ivy.auth(true)...); r.status != http.StatusConflict || r.code(t) != "individual_account" {
		t.Fatalf("an individual invites: %d %s", r.status, r.body)
	}

	owner := f.signUp(t)
	_, readKey := f.createKey(t, owner, "members:read")
	_, writeKey := f.createKey(t, owner, "members:write", "members:read")
	if r := f.call(t, "GET", "/api/account/members", "", "Authorization", "Bearer "+readKey); r.status != http.StatusOK {
		t.Fatalf("members:read lists: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/account/invites", `{"email":"bea@example.com","role":"member"}`, "Authorization", "Bearer "+readKey); r.status != http.StatusForbidden {
		t.Fatalf("members:read invites: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/account/invites", `{"email":"bea@example.com","role":"admin"}`, "Authorization", "Bearer "+writeKey); r.status != http.StatusCreated {
		t.Fatalf("members:write invites: %d %s", r.status, r.body)
	}
	ownerID := f.members(t, owner).Members[0].ID
	if r := f.call(t, "POST", "/api/account/owner", `{"user_id":"`+ownerID+`","password":"correct horse battery"}`, "Authorization", "Bearer "+writeKey); r.status != http.StatusForbidden {
		t.Fatalf("a key transfers ownership: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/invites/accept", `{"token":"nope","display_name":"X","password":"correct horse battery"}`); r.status != http.StatusBadRequest || r.code(t) != "invalid_invite" {
		t.Fatalf("accept with a bad token: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/invites/lookup", `{"token":"nope"}`); r.status != http.StatusBadRequest || r.code(t) != "invalid_invite" {
		t.Fatalf("lookup with a bad token: %d %s", r.status, r.body)
	}
}
