package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/meridian-video/meridian/internal/mail"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

// InviteTTL is how long the set-password link mailed to a user a partner provisioned
// works. After it, the user asks for a password reset as anyone does.
const InviteTTL = 7 * 24 * time.Hour

// CodeUserHostsMeetings refuses removing a user who hosts meetings of the account.
const CodeUserHostsMeetings = "user_hosts_meetings"

// errNoCustomer is the one answer to an account id that is not the partner's customer,
// whether another partner's, direct or nobody's: the same words as commerce's, so that no
// partner route tells them apart.
var errNoCustomer = &Error{Code: CodeNotFound, Message: "no such account"}

// errNoUser is the answer to a user id that is not a user of the customer.
var errNoUser = &Error{Code: CodeNotFound, Message: "no such user"}

// ProvisionInput is a customer account a partner opens, with its owner.
type ProvisionInput struct {
	// AccountType is TypeIndividual or TypeBusiness; AccountName is required for a
	// business and defaults to the owner's name for an individual.
	AccountType string
	AccountName string
	// Country and BillingCountry are what the jurisdiction policy decides by, as at
	// sign-up (required while a policy runs).
	Country, BillingCountry string
	// OwnerEmail and OwnerName are the owner's; the owner gets a mail with a link to set a
	// password.
	OwnerEmail string
	OwnerName  string
	// SetPasswordURL is the page the mail links to, with "?token=..." added: the
	// password-reset page, which sets the password with the token.
	SetPasswordURL string
}

// Provisioned is a customer account the partner opened.
type Provisioned struct {
	Account store.Account
	Owner   store.User
	// Invited tells whether the set-password mail went out; if not (the mail server
	// failed), the owner can ask for a password reset.
	Invited bool
}

// ProvisionAccount opens a customer account for partner p: on the free plan, in the
// partner's channel, homed in this node's region (the partner's, which keeps its record,
// keys and customers), with its owner, who is mailed a link to set a password. Whether
// the account may be opened is the jurisdiction policy's register decision, the one
// sign-up asks, with the partner as the channel and assisted (not online); and its home
// must be one the policy lets it keep its data in (the change_regions decision for the
// home region), since the partner cannot choose another.
func (s *Service) ProvisionAccount(ctx context.Context, p PartnerPrincipal, in ProvisionInput) (Provisioned, error) {
	partner, err := s.partner(ctx, p.PartnerID)
	if err != nil {
		return Provisioned{}, err
	}
	email, err := checkEmail(in.OwnerEmail)
	if err != nil {
		return Provisioned{}, err
	}
	display, err := checkName("owner's name", in.OwnerName)
	if err != nil {
		return Provisioned{}, err
	}
	name, err := s.accountName(in.AccountType, in.AccountName, display)
	if err != nil {
		return Provisioned{}, err
	}
	country, billing, err := s.checkCountries(in.Country, in.BillingCountry)
	if err != nil {
		return Provisioned{}, err
	}
	link, err := absoluteURL(in.SetPasswordURL)
	if err != nil {
		return Provisioned{}, err
	}
	now := s.now()
	a := store.Account{ID: rand.Text(), Type: in.AccountType, Name: name, Plan: string(Free), Channel: partner.ID,
		Region: s.regions.self.ID, Country: country, BillingCountry: billing, CreatedAt: now}
	if err := s.decidePartnerAccount(ctx, p, a, now); err != nil {
		return Provisioned{}, err
	}
	if err := s.emailFree(ctx, email, ""); err != nil {
		return Provisioned{}, err
	}
	hash, err := unusablePassword()
	if err != nil {
		return Provisioned{}, err
	}
	if s.routing != nil {
		if err := s.routing.AddAccount(ctx, a.ID, email); err != nil {
			return Provisioned{}, controlPlane("the account", err)
		}
	}
	a, u, err := s.store.CreateAccountWithOwner(ctx, a, store.User{Email: email, DisplayName: display, PasswordHash: hash, CreatedAt: now})
	if errors.Is(err, store.ErrConflict) {
		s.audit(ctx, p.Actor(), "partner.account_provision", "", "email_taken", "key="+p.Key.ID)
		return Provisioned{}, ErrEmailTaken
	}
	if err != nil {
		return Provisioned{}, err
	}
	s.audit(ctx, p.Actor(), "partner.account_provision", a.ID, "ok", fmt.Sprintf("key=%s type=%s home=%s country=%s billing_country=%s owner=%s",
		p.Key.ID, a.Type, a.Region, a.Country, a.BillingCountry, u.ID))
	u.PasswordHash = ""
	return Provisioned{Account: a, Owner: u, Invited: s.invite(ctx, p, partner, u, link)}, nil
}

// accountName is the name of a new account of type typ, as SignUp names one.
func (s *Service) accountName(typ, name, person string) (string, error) {
	switch typ {
	case TypeBusiness:
		return checkName("account name", name)
	case TypeIndividual:
		if name == "" {
			return person, nil
		}
		return checkName("account name", name)
	}
	return "", invalid(`account type must be "individual" or "business"`)
}

// decidePartnerAccount asks the policy whether the partner may open account a here: the
// register decision, then whether a may keep its data in its home region. A refusal is
// audited and returned with its decision.
func (s *Service) decidePartnerAccount(ctx context.Context, p PartnerPrincipal, a store.Account, now time.Time) error {
	pol := s.runningPolicy()
	f := PolicyFacts(pol, a)
	f.Online = false
	d := policy.Register(pol, f, now)
	if d.Allowed {
		f.Region = a.Region
		d = policy.ChangeRegions(pol, f, now)
	}
	if d.Allowed {
		return nil
	}
	s.auditLog.Refusal(ctx, "", store.AuditEntry{At: now, Actor: p.Actor(), Action: "partner.account_provision", Outcome: d.Code,
		Detail: "rule=" + d.RuleID + " jurisdiction=" + d.Jurisdiction + " policy=" + d.PolicyVersion + " key=" + p.Key.ID})
	return &Error{Code: d.Code, Message: d.Explain(), Decision: &d}
}

// customer returns the partner's customer with this id: errNoCustomer for any account
// outside its channel, looked up in the store by channel.
func (s *Service) customer(ctx context.Context, p PartnerPrincipal, accountID string) (store.Account, error) {
	if p.PartnerID == "" || accountID == "" || len(accountID) > maxTokenLength {
		return store.Account{}, errNoCustomer
	}
	a, err := s.store.GetAccountInChannel(ctx, p.PartnerID, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, errNoCustomer
	}
	return a, err
}

// PartnerUsers returns the users of one of the partner's customers, oldest first,
// without their password hashes.
func (s *Service) PartnerUsers(ctx context.Context, p PartnerPrincipal, accountID string) ([]store.User, error) {
	a, err := s.customer(ctx, p, accountID)
	if err != nil {
		return nil, err
	}
	users, err := s.store.ListAccountUsers(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for i := range users {
		users[i].PasswordHash = ""
	}
	return users, nil
}

// NewUserInput is a user a partner adds to one of its customers.
type NewUserInput struct {
	Email       string
	DisplayName string
	// Role is RoleAdmin or RoleMember: an account has one owner, made with it.
	Role string
	// SetPasswordURL is as in ProvisionInput.
	SetPasswordURL string
}

// AddPartnerUser adds a user to one of the partner's customers and mails them a link to
// set a password; invited tells whether the mail went out.
func (s *Service) AddPartnerUser(ctx context.Context, p PartnerPrincipal, accountID string, in NewUserInput) (u store.User, invited bool, err error) {
	a, err := s.customer(ctx, p, accountID)
	if err != nil {
		return store.User{}, false, err
	}
	partner, err := s.partner(ctx, p.PartnerID)
	if err != nil {
		return store.User{}, false, err
	}
	email, err := checkEmail(in.Email)
	if err != nil {
		return store.User{}, false, err
	}
	display, err := checkName("display name", in.DisplayName)
	if err != nil {
		return store.User{}, false, err
	}
	if in.Role != RoleAdmin && in.Role != RoleMember {
		return store.User{}, false, invalid(`role must be "admin" or "member" (an account's one owner is made with it)`)
	}
	link, err := absoluteURL(in.SetPasswordURL)
	if err != nil {
		return store.User{}, false, err
	}
	if err := s.emailFree(ctx, email, ""); err != nil {
		return store.User{}, false, err
	}
	hash, err := unusablePassword()
	if err != nil {
		return store.User{}, false, err
	}
	if s.routing != nil {
		if err := s.routing.AddAccount(ctx, a.ID, email); err != nil {
			return store.User{}, false, controlPlane("the user", err)
		}
	}
	u, err = s.store.AddAccountUser(ctx, store.User{AccountID: a.ID, Email: email, DisplayName: display, PasswordHash: hash,
		Role: in.Role, CreatedAt: s.now()})
	if errors.Is(err, store.ErrConflict) {
		s.audit(ctx, p.Actor(), "partner.user_add", a.ID, "email_taken", "key="+p.Key.ID)
		return store.User{}, false, ErrEmailTaken
	}
	if err != nil {
		return store.User{}, false, err
	}
	s.audit(ctx, p.Actor(), "partner.user_add", u.ID, "ok", fmt.Sprintf("key=%s account=%s role=%s", p.Key.ID, a.ID, u.Role))
	u.PasswordHash = ""
	return u, s.invite(ctx, p, partner, u, link), nil
}

// RemovePartnerUser removes a user of one of the partner's customers, ending their
// sessions. The owner cannot be removed, nor a user who hosts meetings (move or cancel
// them first).
func (s *Service) RemovePartnerUser(ctx context.Context, p PartnerPrincipal, accountID, userID string) error {
	a, err := s.customer(ctx, p, accountID)
	if err != nil {
		return err
	}
	if userID == "" || len(userID) > maxTokenLength {
		return errNoUser
	}
	u, err := s.store.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.AccountID != a.ID) {
		return errNoUser
	}
	if err != nil {
		return err
	}
	if u.Role == RoleOwner {
		s.audit(ctx, p.Actor(), "partner.user_remove", u.ID, "denied", "the owner; key="+p.Key.ID)
		return forbidden("the account's owner cannot be removed")
	}
	err = s.store.DeleteAccountUser(ctx, a.ID, u.ID)
	switch {
	case errors.Is(err, store.ErrInUse):
		return &Error{Code: CodeUserHostsMeetings, Message: "the user hosts meetings of the account; cancel them or let them end first"}
	case errors.Is(err, store.ErrNotFound):
		return errNoUser
	case err != nil:
		return err
	}
	s.audit(ctx, p.Actor(), "partner.user_remove", u.ID, "ok", fmt.Sprintf("key=%s account=%s", p.Key.ID, a.ID))
	return nil
}

// invite mails u a one-time link to set a password, valid for InviteTTL, and tells
// whether it went out. The link is a password-reset token, so that setting the password
// is the reset page's one path; a failure is logged and audited, not returned: the user
// exists, and can ask for a reset.
func (s *Service) invite(ctx context.Context, p PartnerPrincipal, partner store.Partner, u store.User, link *url.URL) bool {
	now := s.now()
	token := rand.Text()
	if err := s.addCredential(ctx, CredentialReset, token); err != nil {
		s.log.ErrorContext(ctx, "invitation not made", "user", u.ID, "err", err)
		s.audit(ctx, p.Actor(), "user.invite", u.ID, "failed", "directory")
		return false
	}
	pr, err := s.store.CreatePasswordReset(ctx, store.NewPasswordReset{Token: token, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(InviteTTL)})
	if err != nil {
		s.log.ErrorContext(ctx, "invitation not stored", "user", u.ID, "err", err)
		s.audit(ctx, p.Actor(), "user.invite", u.ID, "failed", "store")
		return false
	}
	l := *link
	q := l.Query()
	q.Set("token", token)
	l.RawQuery = q.Encode()
	brand := partner.Brand.Name
	if brand == "" {
		brand = partner.Name
	}
	msg := mail.Message{
		To:      u.Email,
		Subject: "Your " + brand + " account",
		Body: fmt.Sprintf("%s has opened an account for you (%s).\n\n"+
			"To choose your password, open this link before %s:\n\n%s\n\n"+
			"The link works once. Later, use \"Forgot your password?\" on the sign-in page.\n",
			brand, u.Email, pr.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"), l.String()),
	}
	mctx, cancel := context.WithTimeout(ctx, resetMailTime)
	defer cancel()
	if err := s.mail.Send(mctx, msg); err != nil {
		s.log.ErrorContext(ctx, "invitation mail not sent", "user", u.ID, "err", err)
		s.audit(ctx, p.Actor(), "user.invite", u.ID, "mail_failed", "")
		return false
	}
	s.audit(ctx, p.Actor(), "user.invite", u.ID, "sent", "partner="+partner.ID)
	return true
}

// unusablePassword is the hash of a random password nobody knows, for a user who sets
// theirs through the invitation's link.
func unusablePassword() (string, error) { return HashPassword(rand.Text() + rand.Text()) }

func absoluteURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("account: set-password url %q is not an absolute URL", s)
	}
	return u, nil
}
