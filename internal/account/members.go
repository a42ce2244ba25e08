package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/meridian-video/meridian/internal/mail"
	"github.com/meridian-video/meridian/internal/ratelimit"
	"github.com/meridian-video/meridian/internal/store"
)

// MaxMembers bounds the users of one account together with its pending invitations. No
// plan sells seats; this only keeps one account from growing without bound.
const MaxMembers = 1000

// Error codes of membership.
const (
	// CodeIndividualAccount: an individual account is for one person; only a business
	// account has members.
	CodeIndividualAccount = "individual_account"
	// CodeAlreadyMember: the address is already a user of this account.
	CodeAlreadyMember = "already_member"
	// CodeOwnerProtected: the owner cannot be removed, and their role changes only by a
	// transfer of ownership.
	CodeOwnerProtected = "owner_protected"
	// CodeMemberLimit: the account has MaxMembers users and pending invitations.
	CodeMemberLimit = "member_limit"
	// CodeInvalidInvite: an invitation token that is unknown, used, withdrawn or expired
	// (alike).
	CodeInvalidInvite = "invalid_invite"
)

// Sentinel refusals of membership; see Error.
var (
	ErrIndividualAccount = &Error{Code: CodeIndividualAccount,
		Message: "an individual account is for one person; only a business account can invite members"}
	ErrAlreadyMember = &Error{Code: CodeAlreadyMember, Message: "this address is already a member of the account"}
	// ErrEmailInOtherAccount is email_taken said to an inviter: one address is one
	// account in the whole deployment.
	ErrEmailInOtherAccount = &Error{Code: CodeEmailTaken,
		Message: "this address already has a Meridian account, and one address belongs to one account; ask them to use another address"}
	ErrOwnerProtected = &Error{Code: CodeOwnerProtected,
		Message: "the owner cannot be removed and keeps their role; the owner may transfer ownership to another member first"}
	ErrMemberLimit = &Error{Code: CodeMemberLimit,
		Message: fmt.Sprintf("the account has %d members and invitations, the most it may have; remove some first", MaxMembers)}
	ErrInvalidInvite = &Error{Code: CodeInvalidInvite,
		Message: "the invitation link is invalid, used, withdrawn or expired; ask the account's owner or an admin for a new one"}
)

// Member is a user of an account as the account's members see them.
type Member struct {
	ID          string
	Email       string
	DisplayName string
	Role        string
	CreatedAt   time.Time
}

func memberView(u store.User) Member {
	return Member{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Role: u.Role, CreatedAt: u.CreatedAt}
}

// Invite is an open invitation, never its token.
type Invite struct {
	ID        string
	Email     string
	Role      string
	InvitedBy string // a user id or "apikey:<id>"
	CreatedAt time.Time
	ExpiresAt time.Time
}

func inviteView(i store.Invite) Invite {
	return Invite{ID: i.ID, Email: i.Email, Role: i.Role, InvitedBy: i.InvitedBy, CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt}
}

// memberActor decides whether p may read (write false) or manage (write true) its
// account's members: any user of the account may read the member list, an owner or
// admin may manage it; a key needs members:read or members:write, and manages as an
// admin would. It returns the role p acts with.
func memberActor(p Principal, write bool) (string, *Error) {
	if p.ViaAPIKey() {
		scope := ScopeMembersRead
		if write {
			scope = ScopeMembersWrite
		}
		if !p.Allows(scope) {
			return "", forbidden("this API key lacks the scope " + scope)
		}
		return RoleAdmin, nil
	}
	if write && p.User.Role != RoleOwner && p.User.Role != RoleAdmin {
		return "", forbidden("only the account's owner or admins may invite, change or remove members")
	}
	return p.User.Role, nil
}

// checkRole is the role a member may be given: ownership is never given, only transferred.
func checkRole(role string) (string, error) {
	switch role {
	case RoleAdmin, RoleMember:
		return role, nil
	case RoleOwner:
		return "", invalid("ownership is not given by a role: the owner transfers it to a member")
	}
	return "", invalid(`the role must be "admin" or "member"`)
}

// ListMembers returns the users of p's account, oldest first.
func (s *Service) ListMembers(ctx context.Context, p Principal) ([]Member, error) {
	if _, denied := memberActor(p, false); denied != nil {
		return nil, denied
	}
	users, err := s.store.ListUsers(ctx, p.Account.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(users))
	for _, u := range users {
		out = append(out, memberView(u))
	}
	return out, nil
}

// ListInvites returns the open invitations of p's account (expired ones too, to be sent
// again), for its owner and admins.
func (s *Service) ListInvites(ctx context.Context, p Principal) ([]Invite, error) {
	if p.ViaAPIKey() {
		if _, denied := memberActor(p, false); denied != nil {
			return nil, denied
		}
	} else if _, denied := memberActor(p, true); denied != nil {
		return nil, denied
	}
	invites, err := s.store.ListOpenInvites(ctx, p.Account.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Invite, 0, len(invites))
	for _, i := range invites {
		out = append(out, inviteView(i))
	}
	return out, nil
}

// InviteInput is an invitation of an address into the inviter's account.
type InviteInput struct {
	Email string
	Role  string // RoleAdmin or RoleMember
	// LinkBase is the page the mail links to, with "?token=..." added.
	LinkBase string
}

// InviteMember invites an address into p's business account with a role, by a mail with
// a link that works once, for the Service's InviteTTL. An open invitation of the same
// address is replaced (its link stops working). An address that already has an account
// anywhere in the deployment is refused (email_taken), as sign-up refuses it; invitations
// are limited per account (InvitePerAccount), so that they cannot test addresses faster
// than sign-ups can. The mail goes out from the Service's mail queue after the request
// returns.
func (s *Service) InviteMember(ctx context.Context, p Principal, in InviteInput) (Invite, error) {
	refuse := func(err *Error) (Invite, error) {
		s.audit(ctx, p.Actor(), "member.invite", p.Account.ID, err.Code, err.Message)
		return Invite{}, err
	}
	if _, denied := memberActor(p, true); denied != nil {
		return refuse(denied)
	}
	if p.Account.Type != TypeBusiness {
		return refuse(ErrIndividualAccount)
	}
	role, err := checkRole(in.Role)
	if err != nil {
		return Invite{}, err
	}
	email, err := checkEmail(in.Email)
	if err != nil {
		return Invite{}, err
	}
	link, err := url.Parse(in.LinkBase)
	if err != nil || !link.IsAbs() {
		return Invite{}, fmt.Errorf("account: invite url base %q is not an absolute URL", in.LinkBase)
	}
	now := s.now()
	if ok, wait := s.invites.Take(p.Account.ID, now); !ok {
		s.audit(ctx, p.Actor(), "member.invite", p.Account.ID, CodeRateLimited, "")
		return Invite{}, rateLimited(wait)
	}
	switch u, err := s.store.GetUserByEmail(ctx, email); {
	case err == nil && u.AccountID == p.Account.ID:
		return refuse(ErrAlreadyMember)
	case err == nil:
		return refuse(ErrEmailInOtherAccount)
	case !errors.Is(err, store.ErrNotFound):
		return Invite{}, err
	}
	if home, err := s.emailElsewhere(ctx, email, "the invitation"); err != nil {
		return Invite{}, err
	} else if home != "" {
		return refuse(ErrEmailInOtherAccount)
	}
	if users, pending, err := s.store.CountMembers(ctx, p.Account.ID, now); err != nil {
		return Invite{}, err
	} else if users+pending >= MaxMembers {
		return refuse(ErrMemberLimit)
	}
	token := rand.Text()
	if err := s.addCredential(ctx, CredentialInvite, token); err != nil {
		return Invite{}, err
	}
	inv, replaced, err := s.store.CreateInvite(ctx, store.NewInvite{
		Token: token, AccountID: p.Account.ID, Email: email, Role: role, InvitedBy: p.Actor(),
		CreatedAt: now, ExpiresAt: now.Add(s.inviteTTL),
	})
	if err != nil {
		return Invite{}, err
	}
	s.audit(ctx, p.Actor(), "member.invite", inv.ID, "ok",
		fmt.Sprintf("account=%s role=%s replaced=%d", p.Account.ID, role, replaced))
	m := inviteMail{to: email, token: token, link: link, role: role, account: p.Account.Name, accountID: p.Account.ID,
		inviter: p.User.DisplayName, expires: inv.ExpiresAt, inviteID: inv.ID, actor: p.Actor()}
	if !s.resets.enqueue(func(ctx context.Context) { s.sendInvite(ctx, m) }) {
		s.log.WarnContext(ctx, "invitation mail dropped: the mail queue is full or closed", "invite", inv.ID)
		s.audit(ctx, p.Actor(), "member.invite_mail", inv.ID, "dropped", "mail queue full or closed")
	}
	return inviteView(inv), nil
}

// inviteMail is one invitation waiting for the mail server.
type inviteMail struct {
	to, token, role, account, inviter string
	accountID                         string
	link                              *url.URL
	expires                           time.Time
	inviteID, actor                   string
}

// sendInvite mails an invitation under the account's brand: an OEM partner's customers
// are invited by the partner's name, to a link on its domain.
func (s *Service) sendInvite(ctx context.Context, m inviteMail) {
	brand := s.mailBrand(ctx, m.accountID)
	link := rebase(*m.link, brand.BaseURL)
	q := link.Query()
	q.Set("token", m.token)
	link.RawQuery = q.Encode()
	who := "An administrator of " + m.account
	if m.inviter != "" {
		who = m.inviter
	}
	msg := mail.Message{
		To:      m.to,
		Subject: oneLine("You are invited to join " + m.account + " on " + brand.Name),
		Body: fmt.Sprintf("%s invited you to join the %s account %s as %s.\n\n"+
			"To accept, open this link before %s, choose your name and a password:\n\n%s\n\n"+
			"The link works once. If you do not know the account, ignore this mail.\n",
			who, oneLine(brand.Name), m.account, article(m.role), m.expires.UTC().Format("2006-01-02 15:04 MST"), link.String()),
	}
	mctx, cancel := context.WithTimeout(ctx, resetMailTime)
	defer cancel()
	if err := s.mail.Send(mctx, msg); err != nil {
		s.log.ErrorContext(ctx, "invitation mail not sent", "invite", m.inviteID, "err", err)
		s.audit(ctx, m.actor, "member.invite_mail", m.inviteID, "mail_failed", "")
		return
	}
	s.audit(ctx, m.actor, "member.invite_mail", m.inviteID, "sent", "")
}

func article(role string) string {
	if role == RoleAdmin {
		return "an admin"
	}
	return "a member"
}

// RevokeInvite withdraws an open invitation of p's account: its link stops working. An
// invitation of another account, or one accepted or withdrawn already, is not_found.
func (s *Service) RevokeInvite(ctx context.Context, p Principal, id string) error {
	if _, denied := memberActor(p, true); denied != nil {
		s.audit(ctx, p.Actor(), "member.invite_revoke", id, "denied", denied.Message)
		return denied
	}
	if id == "" || len(id) > maxTokenLength {
		return ErrNotFound
	}
	inv, err := s.store.RevokeInvite(ctx, p.Account.ID, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	s.audit(ctx, p.Actor(), "member.invite_revoke", id, "ok", "account="+p.Account.ID+" role="+inv.Role)
	return nil
}

// InviteInfo is what an invitation's link shows before it is accepted.
type InviteInfo struct {
	AccountName string
	Email       string
	Role        string
	InvitedBy   string // the inviter's display name; empty for a key or a removed user
	ExpiresAt   time.Time
}

// LookupInvite tells what an invitation's token invites to; a token that is not pending
// is ErrInvalidInvite.
func (s *Service) LookupInvite(ctx context.Context, token, clientIP string) (InviteInfo, error) {
	inv, err := s.pendingInvite(ctx, token, clientIP, "member.invite_lookup")
	if err != nil {
		return InviteInfo{}, err
	}
	a, err := s.store.GetAccount(ctx, inv.AccountID)
	if err != nil {
		return InviteInfo{}, err
	}
	info := InviteInfo{AccountName: a.Name, Email: inv.Email, Role: inv.Role, ExpiresAt: inv.ExpiresAt}
	if u, err := s.store.GetUser(ctx, inv.InvitedBy); err == nil && u.AccountID == a.ID {
		info.InvitedBy = u.DisplayName
	}
	return info, nil
}

// pendingInvite returns the invitation of token if it can be accepted now.
func (s *Service) pendingInvite(ctx context.Context, token, clientIP, action string) (store.Invite, error) {
	if token == "" || len(token) > maxTokenLength {
		return store.Invite{}, ErrInvalidInvite
	}
	inv, err := s.store.GetInviteByToken(ctx, token)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Invite{}, err
	}
	if err != nil || !inv.Pending(s.now()) {
		s.refused(ctx, clientIP, "anonymous", action, "", CodeInvalidInvite, "ip="+clientIP)
		return store.Invite{}, ErrInvalidInvite
	}
	return inv, nil
}

// AcceptInviteInput is an invitee's acceptance: the token from the mail, and the name and
// password they choose. The address is the invitation's.
type AcceptInviteInput struct {
	Token       string
	DisplayName string
	Password    string
	ClientIP    string // for rate limiting, as a sign-up
}

// AcceptInvite makes the invitee a user of the inviting account, in its home region, with
// the invited role, and signs them in. The token works once, before it expires and unless
// withdrawn; an address that meanwhile has an account anywhere is email_taken. The
// member has the account's plan, regions and channel: those are the account's, not the
// user's.
func (s *Service) AcceptInvite(ctx context.Context, in AcceptInviteInput) (Principal, SessionTokens, error) {
	display, err := checkName("display name", in.DisplayName)
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	if !passwordLengthOK(in.Password) {
		return Principal{}, SessionTokens{}, weakPassword()
	}
	if ok, wait := s.signUpIP.Take(ratelimit.IPKey(in.ClientIP), s.now()); !ok {
		s.refused(ctx, in.ClientIP, "anonymous", "member.invite_accept", "", CodeRateLimited, "ip="+in.ClientIP)
		return Principal{}, SessionTokens{}, rateLimited(wait)
	}
	inv, err := s.pendingInvite(ctx, in.Token, in.ClientIP, "member.invite_accept")
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	now := s.now()
	if users, _, err := s.store.CountMembers(ctx, inv.AccountID, now); err != nil {
		return Principal{}, SessionTokens{}, err
	} else if users >= MaxMembers {
		s.audit(ctx, "anonymous", "member.invite_accept", inv.ID, CodeMemberLimit, "account="+inv.AccountID)
		return Principal{}, SessionTokens{}, ErrMemberLimit
	}
	taken := func(detail string) (Principal, SessionTokens, error) {
		s.audit(ctx, "anonymous", "member.invite_accept", inv.ID, CodeEmailTaken, "account="+inv.AccountID+detail)
		return Principal{}, SessionTokens{}, ErrEmailTaken
	}
	if home, err := s.emailElsewhere(ctx, inv.Email, "the invitation"); err != nil {
		return Principal{}, SessionTokens{}, err
	} else if home != "" {
		return taken(" home=" + home)
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		if errors.Is(err, ErrWeakPassword) {
			return Principal{}, SessionTokens{}, weakPassword()
		}
		return Principal{}, SessionTokens{}, err
	}
	// The address's routing fact goes first, as at sign-up, so that the user never
	// exists without it.
	if s.routing != nil {
		if err := s.routing.AddEmail(ctx, inv.AccountID, inv.Email); err != nil {
			return Principal{}, SessionTokens{}, controlPlane("the invitation", err)
		}
	}
	u, inv, err := s.store.AcceptInvite(ctx, in.Token, store.User{DisplayName: display, PasswordHash: hash, CreatedAt: now}, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.refused(ctx, in.ClientIP, "anonymous", "member.invite_accept", "", CodeInvalidInvite, "ip="+in.ClientIP)
		return Principal{}, SessionTokens{}, ErrInvalidInvite
	case errors.Is(err, store.ErrConflict):
		return taken("")
	case err != nil:
		return Principal{}, SessionTokens{}, err
	}
	s.removeCredential(ctx, CredentialInvite, in.Token)
	s.audit(ctx, u.ID, "member.invite_accept", u.ID, "ok",
		fmt.Sprintf("account=%s invite=%s role=%s invited_by=%s ip=%s", u.AccountID, inv.ID, u.Role, inv.InvitedBy, in.ClientIP))
	a, err := s.store.GetAccount(ctx, u.AccountID)
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	sess, tokens, err := s.newSession(ctx, u.ID, now)
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	return sessionPrincipal(a, u, sess), tokens, nil
}

// target returns the user id of p's account, or ErrNotFound (for a user of another
// account too).
func (s *Service) target(ctx context.Context, p Principal, userID string) (store.User, error) {
	if userID == "" || len(userID) > maxTokenLength {
		return store.User{}, ErrNotFound
	}
	u, err := s.store.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.AccountID != p.Account.ID {
		return store.User{}, ErrNotFound
	}
	return u, err
}

// SetMemberRole gives a member of p's account another role, admin or member. The owner's
// role does not change this way (owner_protected), and nobody becomes owner this way.
func (s *Service) SetMemberRole(ctx context.Context, p Principal, userID, role string) (Member, error) {
	if _, denied := memberActor(p, true); denied != nil {
		s.audit(ctx, p.Actor(), "member.role", userID, "denied", denied.Message)
		return Member{}, denied
	}
	role, err := checkRole(role)
	if err != nil {
		return Member{}, err
	}
	u, err := s.target(ctx, p, userID)
	if err != nil {
		return Member{}, err
	}
	if u.Role == RoleOwner {
		s.audit(ctx, p.Actor(), "member.role", u.ID, CodeOwnerProtected, "account="+p.Account.ID+" before=owner after="+role)
		return Member{}, ErrOwnerProtected
	}
	before, err := s.store.SetUserRole(ctx, p.Account.ID, u.ID, role)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Member{}, ErrNotFound
	case errors.Is(err, store.ErrConflict): // made owner meanwhile
		return Member{}, ErrOwnerProtected
	case err != nil:
		return Member{}, err
	}
	s.audit(ctx, p.Actor(), "member.role", u.ID, "ok", "account="+p.Account.ID+" before="+before+" after="+role)
	u.Role = role
	return memberView(u), nil
}

// RemoveMember removes a user, not the owner, from p's account: their sessions end at
// once, the API keys they made are revoked, and the meetings they host pass to the owner.
// Their address is free afterwards, to be invited again or to sign up.
func (s *Service) RemoveMember(ctx context.Context, p Principal, userID string) error {
	if _, denied := memberActor(p, true); denied != nil {
		s.audit(ctx, p.Actor(), "member.remove", userID, "denied", denied.Message)
		return denied
	}
	u, err := s.target(ctx, p, userID)
	if err != nil {
		return err
	}
	if u.Role == RoleOwner {
		s.audit(ctx, p.Actor(), "member.remove", u.ID, CodeOwnerProtected, "account="+p.Account.ID)
		return ErrOwnerProtected
	}
	r, err := s.store.RemoveUser(ctx, p.Account.ID, u.ID, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return ErrOwnerProtected
	case err != nil:
		return err
	}
	if s.routing != nil {
		if err := s.routing.RemoveEmail(ctx, r.User.Email); err != nil {
			// Left behind, the fact only keeps the address from signing up in another
			// region until it is removed; the user is gone either way.
			s.log.WarnContext(ctx, "directory: removed member's address not forgotten", "user", u.ID, "err", err)
		}
	}
	s.audit(ctx, p.Actor(), "member.remove", u.ID, "ok", fmt.Sprintf("account=%s before=%s after=none sessions=%d keys=%d meetings=%d",
		p.Account.ID, r.User.Role, r.SessionsEnded, r.KeysRevoked, r.MeetingsHandled))
	return nil
}

// TransferOwnership makes another user of p's account its owner, and p, the owner, an
// admin. Only the owner may, signed in (never a key), confirming with their password;
// wrong passwords count as wrong current passwords do.
func (s *Service) TransferOwnership(ctx context.Context, p Principal, toUserID, password string) error {
	if p.ViaAPIKey() || p.User.Role != RoleOwner {
		err := forbidden("only the account's owner, signed in, may transfer its ownership")
		s.audit(ctx, p.Actor(), "account.owner_transfer", toUserID, "denied", err.Message)
		return err
	}
	if password == "" {
		return invalid("your password is required to transfer ownership")
	}
	if toUserID == p.User.ID {
		return invalid("you are the owner already; choose another member")
	}
	to, err := s.target(ctx, p, toUserID)
	if err != nil {
		return err
	}
	if err := s.confirmPassword(ctx, p, password, "account.owner_transfer"); err != nil {
		return err
	}
	before, err := s.store.TransferOwnership(ctx, p.Account.ID, p.User.ID, to.ID)
	if errors.Is(err, store.ErrNotFound) { // the owner or the member changed meanwhile
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	s.audit(ctx, p.Actor(), "account.owner_transfer", to.ID, "ok",
		fmt.Sprintf("account=%s before=%s after=owner from=%s from_after=admin", p.Account.ID, before, p.User.ID))
	return nil
}

// confirmPassword checks a signed-in user's password for a sensitive change; wrong ones
// are limited per user and count against the address's ceiling, as wrong current
// passwords of ChangePassword do.
func (s *Service) confirmPassword(ctx context.Context, p Principal, password, action string) error {
	now := s.now()
	b, wait := s.changePassword.Begin(p.User.ID, now)
	if b == nil {
		s.audit(ctx, p.User.ID, action, p.User.ID, CodeRateLimited, "")
		return rateLimited(wait)
	}
	emB, delay := s.signInEmail.Slow(p.User.Email, now, s.maxDelay)
	failed := false
	defer func() {
		t := s.now()
		s.changePassword.End(b, t, failed)
		s.signInEmail.End(emB, t, failed)
	}()
	if err := s.sleep(ctx, delay); err != nil {
		return fmt.Errorf("account: password check slowed by its email's ceiling: %w", err)
	}
	u, err := s.store.GetUser(ctx, p.User.ID)
	if err != nil {
		return err
	}
	if ok, _ := CheckPassword(u.PasswordHash, password); !ok {
		failed = true
		s.audit(ctx, u.ID, action, u.ID, "denied", "wrong password")
		return &Error{Code: CodeInvalidCredentials, Message: "your password is wrong"}
	}
	return nil
}
