package account

import (
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/mail"
	"github.com/meridian-video/meridian/internal/store"
)

const inviteBase = "https://meet.example/accept-invite"

// inviteToken reads the token of the newest invitation mailed to email.
func (f *fixture) inviteToken(t *testing.T, email string) string {
	t.Helper()
	var token string
	eventually(t, func() bool {
		for _, m := range slices.Backward(f.mail.sent()) {
			if m.To != store.NormalizeEmail(email) {
				continue
			}
			for _, field := range strings.Fields(m.Body) {
				if u, err := url.Parse(field); err == nil && strings.HasPrefix(field, inviteBase+"?") {
					token = u.Query().Get("token")
					return token != ""
				}
			}
		}
		return false
	})
	return token
}

// invite invites email into p's account with role and returns the mailed token.
func (f *fixture) invite(t *testing.T, p Principal, email, role string) (Invite, string) {
	t.Helper()
	before := len(f.mail.sent())
	inv, err := f.svc.InviteMember(t.Context(), p, InviteInput{Email: email, Role: role, LinkBase: inviteBase})
	if err != nil {
		t.Fatal(err)
	}
	f.mail.wait(t, before+1)
	return inv, f.inviteToken(t, email)
}

// member invites email into owner's account with role and accepts: the member, signed in.
func (f *fixture) member(t *testing.T, owner Principal, email, role string) (Principal, SessionTokens) {
	t.Helper()
	_, token := f.invite(t, owner, email, role)
	p, tok, err := f.svc.AcceptInvite(t.Context(), AcceptInviteInput{Token: token, DisplayName: "Bea", Password: pw, ClientIP: "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	return p, tok
}

// audited returns the entries of action about subject, oldest first.
func (f *fixture) audited(t *testing.T, action, subject string) []store.AuditEntry {
	t.Helper()
	return slices.DeleteFunc(f.auditEntries(t), func(e store.AuditEntry) bool { return e.Action != action || e.Subject != subject })
}

// outcomes are the entries' outcomes, sorted (entries of one clock tick have no order).
func outcomes(es []store.AuditEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Outcome)
	}
	slices.Sort(out)
	return out
}

func okEntries(es []store.AuditEntry) []store.AuditEntry {
	return slices.DeleteFunc(es, func(e store.AuditEntry) bool { return e.Outcome != "ok" })
}

// An owner invites by email; the invitee opens the mailed link, sees what it invites to,
// chooses a name and password, and is a user of the account with the invited role, signed
// in, and can sign in again. The link works once. Each step is audited.
func TestInviteAndAccept(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	owner, _ := f.signUp(t, "ada@example.com")
	inv, token := f.invite(t, owner, "Bea@Example.com", RoleAdmin)
	if inv.Email != "bea@example.com" || inv.Role != RoleAdmin || inv.InvitedBy != owner.User.ID ||
		!inv.ExpiresAt.Equal(f.clock.Now().Add(DefaultInviteTTL)) {
		t.Fatalf("invite %+v", inv)
	}
	msg := f.mail.sent()[0]
	if msg.To != "bea@example.com" || !strings.Contains(msg.Subject, "Acme") || !strings.Contains(msg.Body, "Ada invited you") ||
		!strings.Contains(msg.Body, "as an admin") {
		t.Fatalf("mail %+v", msg)
	}
	if stored, err := f.st.GetInviteByToken(ctx, token); err != nil || stored.TokenHash == token || stored.ID != inv.ID {
		t.Fatalf("stored invite %+v, %v", stored, err)
	}
	open, err := f.svc.ListInvites(ctx, owner)
	if err != nil || len(open) != 1 || open[0].ID != inv.ID {
		t.Fatalf("ListInvites = %+v, %v", open, err)
	}

	info, err := f.svc.LookupInvite(ctx, token, "192.0.2.9")
	if err != nil || info.AccountName != "Acme" || info.Email != "bea@example.com" || info.Role != RoleAdmin || info.InvitedBy != "Ada" {
		t.Fatalf("LookupInvite = %+v, %v", info, err)
	}
	_, _, err = f.svc.AcceptInvite(ctx, AcceptInviteInput{Token: token, DisplayName: "Bea", Password: "short"})
	wantCode(t, err, CodeWeakPassword)

	p, tok, err := f.svc.AcceptInvite(ctx, AcceptInviteInput{Token: token, DisplayName: " Bea ", Password: pw, ClientIP: "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Account.ID != owner.Account.ID || p.User.Role != RoleAdmin || p.User.Email != "bea@example.com" || p.User.DisplayName != "Bea" ||
		p.User.Region != owner.Account.Region || p.User.PasswordHash != "" {
		t.Fatalf("accepted as %+v", p)
	}
	if got, err := f.svc.Authenticate(ctx, tok.Token); err != nil || got.User.ID != p.User.ID {
		t.Fatalf("the new member's session: %+v, %v", got, err)
	}
	if again, _, err := f.svc.SignIn(ctx, "bea@example.com", pw, "192.0.2.9"); err != nil || again.User.ID != p.User.ID {
		t.Fatalf("the new member signs in: %+v, %v", again, err)
	}
	members, err := f.svc.ListMembers(ctx, owner)
	if err != nil || len(members) != 2 || members[0].Role != RoleOwner || members[1].ID != p.User.ID {
		t.Fatalf("ListMembers = %+v, %v", members, err)
	}
	if open, _ := f.svc.ListInvites(ctx, owner); len(open) != 0 {
		t.Fatalf("an accepted invite is still open: %+v", open)
	}

	// The link works once.
	_, _, err = f.svc.AcceptInvite(ctx, AcceptInviteInput{Token: token, DisplayName: "Mallory", Password: pw})
	wantCode(t, err, CodeInvalidInvite)
	_, err = f.svc.LookupInvite(ctx, token, "")
	wantCode(t, err, CodeInvalidInvite)
	for _, bad := range []string{"", "nope", strings.Repeat("x", 200)} {
		_, _, err = f.svc.AcceptInvite(ctx, AcceptInviteInput{Token: bad, DisplayName: "M", Password: pw})
		wantCode(t, err, CodeInvalidInvite)
	}

	if es := f.audited(t, "member.invite", inv.ID); len(es) != 1 || es[0].Actor != owner.User.ID || es[0].Outcome != "ok" ||
		!strings.Contains(es[0].Detail, "role=admin") {
		t.Fatalf("invite audit %+v", es)
	}
	if es := f.audited(t, "member.invite_mail", inv.ID); len(es) != 1 || es[0].Outcome != "sent" {
		t.Fatalf("mail audit %+v", es)
	}
	if es := f.audited(t, "member.invite_accept", p.User.ID); len(es) != 1 || es[0].Outcome != "ok" ||
		!strings.Contains(es[0].Detail, "invite="+inv.ID) || !strings.Contains(es[0].Detail, "role=admin") {
		t.Fatalf("accept audit %+v", es)
	}
	if !f.auditHas(t, "member.invite_accept", CodeInvalidInvite) {
		t.Fatal("a refused acceptance is not audited")
	}
}

// Who may invite and with what role: the owner and admins, as admin or member; never as
// owner; not a member; a key with members:write, not one without.
func TestInviteRoles(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	owner, _ := f.signUp(t, "ada@example.com")
	admin, _ := f.member(t, owner, "bea@example.com", RoleAdmin)
	member, _ := f.member(t, owner, "cy@example.com", RoleMember)

	invite := func(p Principal, email, role string) error {
		_, err := f.svc.InviteMember(ctx, p, InviteInput{Email: email, Role: role, LinkBase: inviteBase})
		return err
	}
	if err := invite(admin, "dee@example.com", RoleAdmin); err != nil {
		t.Fatalf("an admin invites an admin: %v", err)
	}
	if err := invite(admin, "eve@example.com", RoleMember); err != nil {
		t.Fatalf("an admin invites a member: %v", err)
	}
	wantCode(t, invite(member, "fay@example.com", RoleMember), CodeForbidden)
	for _, p := range []Principal{owner, admin} {
		wantCode(t, invite(p, "gus@example.com", RoleOwner), CodeInvalidInput)
		wantCode(t, invite(p, "gus@example.com", "superuser"), CodeInvalidInput)
	}
	wantCode(t, invite(owner, "not an address", RoleMember), CodeInvalidInput)
	_, err := f.svc.ListInvites(ctx, member)
	wantCode(t, err, CodeForbidden)
	if ms, err := f.svc.ListMembers(ctx, member); err != nil || len(ms) != 3 {
		t.Fatalf("a member lists the members: %d, %v", len(ms), err)
	}

	_, readOnly, err := f.svc.CreateAPIKey(ctx, owner, "read", []string{ScopeMembersRead})
	if err != nil {
		t.Fatal(err)
	}
	_, writer, err := f.svc.CreateAPIKey(ctx, admin, "write", []string{ScopeMembersWrite})
	if err != nil {
		t.Fatal(err)
	}
	rk, _ := f.svc.AuthenticateAPIKey(ctx, readOnly)
	wk, _ := f.svc.AuthenticateAPIKey(ctx, writer)
	if _, err := f.svc.ListInvites(ctx, rk); err != nil {
		t.Fatalf("a members:read key lists invites: %v", err)
	}
	wantCode(t, invite(rk, "hal@example.com", RoleMember), CodeForbidden)
	if err := invite(wk, "hal@example.com", RoleMember); err != nil {
		t.Fatalf("a members:write key invites: %v", err)
	}
	_, err = f.svc.ListMembers(ctx, wk)
	wantCode(t, err, CodeForbidden) // members:write alone does not read
	if !f.auditHas(t, "member.invite", "forbidden") {
		t.Fatal("a refused invitation is not audited")
	}
}

// An individual account is for one person: it has no members to invite.
func TestIndividualAccountCannotInvite(t *testing.T) {
	f := newFixture(t, Limits{})
	p, _, err := f.svc.SignUp(t.Context(), SignUpInput{AccountType: TypeIndividual, Email: "ada@example.com", DisplayName: "Ada",
		Password: pw, ClientIP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.InviteMember(t.Context(), p, InviteInput{Email: "bea@example.com", Role: RoleMember, LinkBase: inviteBase})
	wantCode(t, err, CodeIndividualAccount)
	if n, _, _ := f.st.CountMembers(t.Context(), p.Account.ID, f.clock.Now()); n != 1 {
		t.Fatalf("%d users", n)
	}
	if !f.auditHas(t, "member.invite", CodeIndividualAccount) {
		t.Fatal("not audited")
	}
}

// One address is one account: an address of another account, or already of this one, is
// not invited; one that gets an account between the invitation and its acceptance is not
// accepted.
func TestInviteRefusesAddressesWithAnAccount(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	owner, _ := f.signUp(t, "ada@example.com")
	f.signUp(t, "zed@example.com") // another account
	f.member(t, owner, "bea@example.com", RoleMember)
	for email, code := range map[string]string{"Zed@example.com": CodeEmailTaken, "bea@example.com": CodeAlreadyMember,
		"ada@example.com": CodeAlreadyMember} {
		_, err := f.svc.InviteMember(ctx, owner, InviteInput{Email: email, Role: RoleMember, LinkBase: inviteBase})
		wantCode(t, err, code)
	}

	_, token := f.invite(t, owner, "late@example.com", RoleMember)
	if _, _, err := f.svc.SignUp(ctx, SignUpInput{AccountType: TypeIndividual, Email: "late@example.com", DisplayName: "Late",
		Password: pw, ClientIP: "192.0.2.2"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.svc.AcceptInvite(ctx, AcceptInviteInput{Token: token, DisplayName: "Late", Password: pw})
	wantCode(t, err, CodeEmailTaken)
	if u, _ := f.st.GetUserByEmail(ctx, "late@example.com"); u.AccountID == owner.Account.ID {
		t.Fatal("the address joined the inviting account")
	}
}

// A new invitation of the same address replaces the open one; an expired or withdrawn one
// does not work; only the owner and admins withdraw, and only their account's.
func TestInviteReplacedExpiredAndWithdrawn(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	owner, _ := f.signUp(t, "ada@example.com")
	other, _ := f.signUp(t, "zed@example.com")
	_, first := f.invite(t, owner, "bea@example.com", RoleAdmin)
	second, token := f.invite(t, owner, "bea@example.com", RoleMember)
	if first == token {
		t.Fatal("the same token twice")
	}
	_, _, err := f.svc.AcceptInvite(ctx, AcceptInviteInput{Token: first, DisplayName: "Bea", Password: pw})
	wantCode(t, err, CodeInvalidInvite)
	if open, _ := f.svc.ListInvites(ctx, owner); len(open) != 1 || open[0].ID != second.ID || open[0].Role != RoleMember {
		t.Fatalf("open invites after re-inviting: %+v", open)
	}

	// Withdrawn.
	member, _ := f.member(t, owner, "cy@example.com", RoleMember)
	wantCode(t, f.svc.RevokeInvite(ctx, member, second.ID), CodeForbidden)
	wantCode(t, f.svc.RevokeInvite(ctx, other, second.ID), CodeNotFound)
	if err := f.svc.RevokeInvite(ctx, owner, second.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.svc.RevokeInvite(ctx, owner, second.ID), CodeNotFound)
	_, _, err = f.svc.AcceptInvite(ctx, AcceptInviteInput{Token: token, DisplayName: "Bea", Password: pw})
	wantCode(t, err, CodeInvalidInvite)
	if got := outcomes(f.audited(t, "member.invite_revoke", second.ID)); !slices.Equal(got, []string{"denied", "ok"}) {
		t.Fatalf("withdrawal audit %v", got)
	}

	// Expired.
	_, token = f.invite(t, owner, "dee@example.com", RoleMember)
	f.clock.Advance(DefaultInviteTTL + time.Second)
	_, err = f.svc.LookupInvite(ctx, token, "")
	wantCode(t, err, CodeInvalidInvite)
	_, _, err = f.svc.AcceptInvite(ctx, AcceptInviteInput{Token: token, DisplayName: "Dee", Password: pw})
	wantCode(t, err, CodeInvalidInvite)
	if _, err := f.st.GetUserByEmail(ctx, "dee@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an expired invitation made a user: %v", err)
	}
}

// Invitations are limited per account: they may tell which addresses have accounts.
func TestInvitationsLimitedPerAccount(t *testing.T) {
	f := newFixture(t, Limits{InvitePerAccount: RateLimit{Every: time.Hour, Burst: 2}})
	owner, _ := f.signUp(t, "ada@example.com")
	for i, want := range []string{"", CodeEmailTaken, CodeRateLimited} {
		email := []string{"bea@example.com", "ada2@example.com", "cy@example.com"}[i]
		if i == 1 {
			f.signUp(t, email)
		}
		_, err := f.svc.InviteMember(t.Context(), owner, InviteInput{Email: email, Role: RoleMember, LinkBase: inviteBase})
		if want == "" {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		wantCode(t, err, want)
	}
}

// An invitation returns without waiting for the mail server; the mail goes out after.
func TestInviteDoesNotWaitForTheMailServer(t *testing.T) {
	f := newFixture(t, Limits{})
	owner, _ := f.signUp(t, "ada@example.com")
	slow := &slowMailServer{entered: make(chan mail.Message, 1), release: make(chan struct{})}
	svc, err := New(f.st, slow, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan error, 1)
	go func() {
		_, err := svc.InviteMember(t.Context(), owner, InviteInput{Email: "bea@example.com", Role: RoleMember, LinkBase: inviteBase})
		returned <- err
	}()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second): // the mail server is never released meanwhile
		t.Fatal("the invitation waited for the mail server")
	}
	if msg := <-slow.entered; msg.To != "bea@example.com" {
		t.Fatalf("mail to %q", msg.To)
	}
	close(slow.release)
	if err := svc.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Roles change between admin and member, by the owner or an admin; the owner's does not,
// and nobody becomes owner this way. Each change says before and after in the audit.
func TestSetMemberRole(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	owner, _ := f.signUp(t, "ada@example.com")
	other, _ := f.signUp(t, "zed@example.com")
	admin, _ := f.member(t, owner, "bea@example.com", RoleAdmin)
	member, _ := f.member(t, owner, "cy@example.com", RoleMember)

	m, err := f.svc.SetMemberRole(ctx, admin, member.User.ID, RoleAdmin)
	if err != nil || m.Role != RoleAdmin {
		t.Fatalf("an admin promotes a member: %+v, %v", m, err)
	}
	_, err = f.svc.SetMemberRole(ctx, admin, owner.User.ID, RoleMember)
	wantCode(t, err, CodeOwnerProtected)
	_, err = f.svc.SetMemberRole(ctx, owner, owner.User.ID, RoleAdmin)
	wantCode(t, err, CodeOwnerProtected)
	_, err = f.svc.SetMemberRole(ctx, owner, member.User.ID, RoleOwner)
	wantCode(t, err, CodeInvalidInput)
	_, err = f.svc.SetMemberRole(ctx, other, member.User.ID, RoleMember)
	wantCode(t, err, CodeNotFound)
	if _, err := f.svc.SetMemberRole(ctx, owner, member.User.ID, RoleMember); err != nil {
		t.Fatal(err)
	}
	// Demoted, the member's next request acts as a member.
	demoted := member
	demoted.User.Role = RoleMember
	_, err = f.svc.SetMemberRole(ctx, demoted, admin.User.ID, RoleMember)
	wantCode(t, err, CodeForbidden)

	var details []string
	for _, e := range okEntries(f.audited(t, "member.role", member.User.ID)) {
		details = append(details, e.Actor+" "+strings.TrimPrefix(e.Detail, "account="+owner.Account.ID+" "))
	}
	slices.Sort(details) // one clock tick: the log's order within it is the ids'
	want := []string{admin.User.ID + " before=member after=admin", owner.User.ID + " before=admin after=member"}
	slices.Sort(want)
	if !slices.Equal(details, want) {
		t.Fatalf("role audit %v, want %v", details, want)
	}
	if !f.auditHas(t, "member.role", CodeOwnerProtected) {
		t.Fatal("the refused change of the owner is not audited")
	}
}

// Removing a member ends their sessions and revokes the keys they made, at once; the
// owner cannot be removed; the address may be invited again.
func TestRemoveMember(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	owner, _ := f.signUp(t, "ada@example.com")
	other, _ := f.signUp(t, "zed@example.com")
	admin, adminTok := f.member(t, owner, "bea@example.com", RoleAdmin)
	member, _ := f.member(t, owner, "cy@example.com", RoleMember)
	_, adminKey, err := f.svc.CreateAPIKey(ctx, admin, "bea's", []string{ScopeMeetingsRead, ScopeKeysWrite})
	if err != nil {
		t.Fatal(err)
	}
	// A key the admin's key made is the admin's too.
	ak, _ := f.svc.AuthenticateAPIKey(ctx, adminKey)
	_, childKey, err := f.svc.CreateAPIKey(ctx, ak, "child", []string{ScopeMeetingsRead})
	if err != nil {
		t.Fatal(err)
	}
	_, ownerKey, err := f.svc.CreateAPIKey(ctx, owner, "ada's", []string{ScopeMeetingsRead})
	if err != nil {
		t.Fatal(err)
	}

	wantCode(t, f.svc.RemoveMember(ctx, member, admin.User.ID), CodeForbidden)
	wantCode(t, f.svc.RemoveMember(ctx, admin, owner.User.ID), CodeOwnerProtected)
	wantCode(t, f.svc.RemoveMember(ctx, owner, owner.User.ID), CodeOwnerProtected)
	wantCode(t, f.svc.RemoveMember(ctx, other, admin.User.ID), CodeNotFound)
	if err := f.svc.RemoveMember(ctx, owner, admin.User.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, adminTok.Token); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("the removed member's session: %v", err)
	}
	for _, k := range []string{adminKey, childKey} {
		if _, err := f.svc.AuthenticateAPIKey(ctx, k); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("the removed member's key: %v", err)
		}
	}
	if _, err := f.svc.AuthenticateAPIKey(ctx, ownerKey); err != nil {
		t.Fatalf("the owner's key after the removal: %v", err)
	}
	_, _, err = f.svc.SignIn(ctx, "bea@example.com", pw, "192.0.2.9")
	wantCode(t, err, CodeInvalidCredentials)
	if ms, _ := f.svc.ListMembers(ctx, owner); len(ms) != 2 {
		t.Fatalf("%d members after the removal", len(ms))
	}
	if es := okEntries(f.audited(t, "member.remove", admin.User.ID)); len(es) != 1 || es[0].Actor != owner.User.ID ||
		!strings.Contains(es[0].Detail, "before=admin after=none sessions=1 keys=2") {
		t.Fatalf("removal audit %+v", es)
	}
	// Removed, the address is free to be invited again.
	f.member(t, owner, "bea@example.com", RoleMember)
}

// The owner hands the account to another member, confirming with their password, and is
// an admin afterwards; nobody else may.
func TestTransferOwnership(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	owner, _ := f.signUp(t, "ada@example.com")
	admin, _ := f.member(t, owner, "bea@example.com", RoleAdmin)
	member, _ := f.member(t, owner, "cy@example.com", RoleMember)
	_, key, err := f.svc.CreateAPIKey(ctx, owner, "k", []string{ScopeMembersWrite})
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := f.svc.AuthenticateAPIKey(ctx, key)

	wantCode(t, f.svc.TransferOwnership(ctx, admin, member.User.ID, pw), CodeForbidden)
	wantCode(t, f.svc.TransferOwnership(ctx, kp, member.User.ID, pw), CodeForbidden)
	wantCode(t, f.svc.TransferOwnership(ctx, owner, member.User.ID, "wrong password!"), CodeInvalidCredentials)
	wantCode(t, f.svc.TransferOwnership(ctx, owner, member.User.ID, ""), CodeInvalidInput)
	wantCode(t, f.svc.TransferOwnership(ctx, owner, owner.User.ID, pw), CodeInvalidInput)
	wantCode(t, f.svc.TransferOwnership(ctx, owner, "nobody", pw), CodeNotFound)
	if err := f.svc.TransferOwnership(ctx, owner, member.User.ID, pw); err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	ms, _ := f.svc.ListMembers(ctx, owner)
	for _, m := range ms {
		roles[m.Email] = m.Role
	}
	if roles["ada@example.com"] != RoleAdmin || roles["cy@example.com"] != RoleOwner || roles["bea@example.com"] != RoleAdmin {
		t.Fatalf("roles after the transfer %v", roles)
	}
	// The old owner's next request acts as an admin: no second transfer.
	old := owner
	old.User.Role = RoleAdmin
	wantCode(t, f.svc.TransferOwnership(ctx, old, admin.User.ID, pw), CodeForbidden)
	if es := okEntries(f.audited(t, "account.owner_transfer", member.User.ID)); len(es) != 1 || es[0].Actor != owner.User.ID ||
		!strings.Contains(es[0].Detail, "before=member after=owner from="+owner.User.ID+" from_after=admin") {
		t.Fatalf("transfer audit %+v", es)
	}
	if !f.auditHas(t, "account.owner_transfer", "denied") {
		t.Fatal("refused transfers are not audited")
	}
}
