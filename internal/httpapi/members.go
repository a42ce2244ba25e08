package httpapi

import (
	"net/http"
	"time"

	"github.com/meridian-video/meridian/internal/account"
)

// The members routes: a business account's users, its invitations, and the acceptance of
// one (public: the token is the credential). Decisions are account.Service's.

type memberJSON struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	Role        string    `json:"role"`
	CreatedAt   time.Time `json:"created_at"`
}

type inviteJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	InvitedBy string    `json:"invited_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func toMember(m account.Member) memberJSON {
	return memberJSON{ID: m.ID, Email: m.Email, DisplayName: m.DisplayName, Role: m.Role, CreatedAt: m.CreatedAt}
}

func toInvite(i account.Invite) inviteJSON {
	return inviteJSON{ID: i.ID, Email: i.Email, Role: i.Role, InvitedBy: i.InvitedBy, CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt}
}

func (a *accountAPI) listMembers(w http.ResponseWriter, r *http.Request, p account.Principal) {
	ms, err := a.svc.ListMembers(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Members []memberJSON `json:"members"`
	}{Members: make([]memberJSON, 0, len(ms))}
	for _, m := range ms {
		out.Members = append(out.Members, toMember(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *accountAPI) setMemberRole(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Role string `json:"role"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	m, err := a.svc.SetMemberRole(r.Context(), p, r.PathValue("id"), in.Role)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Member memberJSON `json:"member"`
	}{toMember(m)})
}

func (a *accountAPI) removeMember(w http.ResponseWriter, r *http.Request, p account.Principal) {
	if err := a.svc.RemoveMember(r.Context(), p, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *accountAPI) listInvites(w http.ResponseWriter, r *http.Request, p account.Principal) {
	is, err := a.svc.ListInvites(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Invites []inviteJSON `json:"invites"`
	}{Invites: make([]inviteJSON, 0, len(is))}
	for _, i := range is {
		out.Invites = append(out.Invites, toInvite(i))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *accountAPI) invite(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	inv, err := a.svc.InviteMember(r.Context(), p, account.InviteInput{Email: in.Email, Role: in.Role, LinkBase: a.inviteURL})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Invite inviteJSON `json:"invite"`
	}{toInvite(inv)})
}

func (a *accountAPI) revokeInvite(w http.ResponseWriter, r *http.Request, p account.Principal) {
	if err := a.svc.RevokeInvite(r.Context(), p, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *accountAPI) transferOwnership(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		UserID   string `json:"user_id"`
		Password string `json:"password"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	if err := a.svc.TransferOwnership(r.Context(), p, in.UserID, in.Password); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *accountAPI) lookupInvite(w http.ResponseWriter, r *http.Request, _ account.Principal) {
	var in struct {
		Token string `json:"token"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	info, err := a.svc.LookupInvite(r.Context(), in.Token, clientIP(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		AccountName string    `json:"account_name"`
		Email       string    `json:"email"`
		Role        string    `json:"role"`
		InvitedBy   string    `json:"invited_by,omitempty"`
		ExpiresAt   time.Time `json:"expires_at"`
	}{info.AccountName, info.Email, info.Role, info.InvitedBy, info.ExpiresAt})
}

func (a *accountAPI) acceptInvite(w http.ResponseWriter, r *http.Request, _ account.Principal) {
	var in struct {
		Token       string `json:"token"`
		DisplayName string `json:"display_name"`
		Password    string `json:"password"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	p, tok, err := a.svc.AcceptInvite(r.Context(), account.AcceptInviteInput{
		Token: in.Token, DisplayName: in.DisplayName, Password: in.Password, ClientIP: clientIP(r),
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.startSession(w, r, http.StatusCreated, p, tok)
}
