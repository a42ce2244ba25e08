package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/label"
	"github.com/meridian-video/meridian/internal/mail"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/ratelimit"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// Store is what the Service needs of the persistence layer (*store.Store has it all).
type Store interface {
	CreateAccountWithOwner(ctx context.Context, a store.Account, owner store.User) (store.Account, store.User, error)
	GetAccount(ctx context.Context, id string) (store.Account, error)
	GetUser(ctx context.Context, id string) (store.User, error)
	GetUserByEmail(ctx context.Context, email string) (store.User, error)
	UpdatePasswordHash(ctx context.Context, userID, hash string) error

	CreateSession(ctx context.Context, n store.NewSession) (store.Session, error)
	GetSession(ctx context.Context, token string) (store.Session, error)
	RevokeSession(ctx context.Context, token string, at time.Time) error
	RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int64, error)

	CreatePasswordReset(ctx context.Context, n store.NewPasswordReset) (store.PasswordReset, error)
	ConsumePasswordReset(ctx context.Context, token, newPasswordHash string, now time.Time) (string, error)

	CreateAPIKey(ctx context.Context, n store.NewAPIKey) (store.APIKey, error)
	ListAPIKeys(ctx context.Context, accountID string) ([]store.APIKey, error)
	GetAPIKeyByPrefix(ctx context.Context, prefix string) (store.APIKey, error)
	RevokeAPIKey(ctx context.Context, accountID, id string, at time.Time) error

	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)

	// The partner API (partner.go, partnerkeys.go).
	GetPartner(ctx context.Context, id string) (store.Partner, error)
	GetAccountInChannel(ctx context.Context, channel, id string) (store.Account, error)
	AddAccountUser(ctx context.Context, u store.User) (store.User, error)
	ListAccountUsers(ctx context.Context, accountID string) ([]store.User, error)
	DeleteAccountUser(ctx context.Context, accountID, userID string) error
	CreatePartnerKey(ctx context.Context, n store.NewPartnerKey) (store.PartnerKey, error)
	ListPartnerKeys(ctx context.Context, partnerID string) ([]store.PartnerKey, error)
	GetPartnerKeyByPrefix(ctx context.Context, prefix string) (store.PartnerKey, error)
	RevokePartnerKey(ctx context.Context, partnerID, id string, at time.Time) error
	TouchPartnerKey(ctx context.Context, id string, at time.Time) error

	GetAccountRegions(ctx context.Context, accountID string) (store.AccountRegions, error)
	UpdateAccountRegions(ctx context.Context, accountID string, before, after store.AccountRegions) error

	ListUsers(ctx context.Context, accountID string) ([]store.User, error)
	CountMembers(ctx context.Context, accountID string, now time.Time) (users, pending int, err error)
	CreateInvite(ctx context.Context, n store.NewInvite) (store.Invite, int64, error)
	GetInviteByToken(ctx context.Context, token string) (store.Invite, error)
	ListOpenInvites(ctx context.Context, accountID string) ([]store.Invite, error)
	RevokeInvite(ctx context.Context, accountID, id string, at time.Time) (store.Invite, error)
	AcceptInvite(ctx context.Context, token string, u store.User, now time.Time) (store.User, store.Invite, error)
	SetUserRole(ctx context.Context, accountID, userID, role string) (string, error)
	RemoveUser(ctx context.Context, accountID, userID string, at time.Time) (store.Removal, error)
	TransferOwnership(ctx context.Context, accountID, from, to string) (string, error)
	GetAccountEntry(ctx context.Context, accountID string) (store.AccountEntry, error)
	UpdateAccountEntry(ctx context.Context, accountID string, before, after store.AccountEntry) error
}

// Account types and user roles.
const (
	TypeIndividual = "individual"
	TypeBusiness   = "business"

	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Defaults of Options.
const (
	DefaultSessionTTL = 14 * 24 * time.Hour
	DefaultResetTTL   = time.Hour
	DefaultInviteTTL  = 7 * 24 * time.Hour
)

// Input bounds.
const (
	maxEmailLength = 254
	maxNameLength  = 100
	maxTokenLength = 128
)

// Options tune a Service; the zero value is usable.
type Options struct {
	Now        func() time.Time // time.Now if nil
	Log        *slog.Logger     // slog.Default() if nil
	SessionTTL time.Duration    // DefaultSessionTTL if zero
	ResetTTL   time.Duration    // DefaultResetTTL if zero
	InviteTTL  time.Duration    // how long an invitation's link works; DefaultInviteTTL if zero
	Limits     Limits           // DefaultLimits() if zero
	// Audit is the audit trail, shared with the other services; one of the Service's own
	// over the store if nil.
	Audit *auditlog.Log
	// Sleep waits out the delay of a sign-in slowed by its email address's ceiling;
	// ratelimit.Sleep if nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Routing records the directory's routing facts in a multi-region deployment; nil in
	// one region.
	Routing Routing
	// Deployment is the region list (topology.Default() if it has no region) and Region
	// this node's region in it (topology.DefaultRegion if empty): accounts signing up
	// here are homed in Region, since this node holds only its region's store.
	Deployment topology.Deployment
	Region     string
	// Policy holds the running jurisdiction policy, asked at sign-up (policy.Register);
	// nil, or a nil policy in it, restricts nothing.
	Policy *policy.Holder
	// Brander names the brand of an account's mail (an OEM partner's name and domain);
	// nil: the product's own, with links on the server's URL.
	Brander Brander
	// GeoIP says the node has a GeoIP database (geoip_file), without which a rule of entry
	// by country could not be enforced and so cannot be set.
	GeoIP bool
	// Decisions records the policy's decisions with their facts; nil records none.
	Decisions DecisionLog
}

// DecisionLog records jurisdiction policy decisions with the facts they were made from
// (*decisionlog.Log is one), for the dry run's replay.
type DecisionLog interface {
	Record(ctx context.Context, m decisionlog.Made)
}

// Service is the account domain: sign-up, sign-in and sessions, passwords, API keys, and
// the members of business accounts (members.go). It is safe for concurrent use.
type Service struct {
	store      Store
	mail       mail.Sender
	now        func() time.Time
	log        *slog.Logger
	sessionTTL time.Duration
	resetTTL   time.Duration
	inviteTTL  time.Duration
	regions    regions

	auditLog *auditlog.Log
	policy   *policy.Holder
	geoIP    bool
	decided  DecisionLog
	sleep    func(context.Context, time.Duration) error
	maxDelay time.Duration

	signInPair, signInIP, signInSite, signInEmail, changePassword, signUpIP, resetEmail *ratelimit.Set
	invites                                                                             *ratelimit.Set
	resets                                                                              *resetQueue
	// partnerKeyIP counts a client address's failed partner-key authentications.
	partnerKeyIP *ratelimit.Set

	routing Routing
	brander Brander

	// dummyHash is checked against when an email address has no user, so that an unknown
	// address costs the same argon2 time as a wrong password.
	dummyHash string
}

// New returns a Service over st that sends mail through sender. Its reset mails go out
// from a queue of its own: Close drains it.
func New(st Store, sender mail.Sender, o Options) (*Service, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.ResetTTL <= 0 {
		o.ResetTTL = DefaultResetTTL
	}
	if o.InviteTTL <= 0 {
		o.InviteTTL = DefaultInviteTTL
	}
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits()
	}
	if o.Limits.InvitePerAccount == (RateLimit{}) {
		o.Limits.InvitePerAccount = DefaultLimits().InvitePerAccount
	}
	if o.Audit == nil {
		o.Audit = auditlog.New(st, auditlog.Options{Now: o.Now, Log: o.Log})
	}
	if o.Sleep == nil {
		o.Sleep = ratelimit.Sleep
	}
	dummy, err := HashPassword(rand.Text())
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	regions, err := newRegions(o.Deployment, o.Region)
	if err != nil {
		return nil, err
	}
	l := o.Limits
	if l.PartnerKeyPerIP == (RateLimit{}) {
		l.PartnerKeyPerIP = DefaultLimits().PartnerKeyPerIP
	}
	s := &Service{
		store: st, mail: sender, now: o.Now, log: o.Log,
		sessionTTL: o.SessionTTL, resetTTL: o.ResetTTL, regions: regions,
		auditLog: o.Audit, policy: o.Policy, geoIP: o.GeoIP, decided: o.Decisions, sleep: o.Sleep, maxDelay: l.SignInMaxDelay,
		signInPair:     ratelimit.NewSet(l.SignInPerEmailIP, l.MaxKeys),
		signInIP:       ratelimit.NewSet(l.SignInPerIP, l.MaxKeys),
		signInSite:     ratelimit.NewSet(l.SignInPerSite, l.MaxKeys),
		signInEmail:    ratelimit.NewSet(l.SignInPerEmail, l.MaxKeys),
		changePassword: ratelimit.NewSet(l.PasswordChangePerUser, l.MaxKeys),
		signUpIP:       ratelimit.NewSet(l.SignUpPerIP, l.MaxKeys),
		resetEmail:     ratelimit.NewSet(l.ResetPerEmail, l.MaxKeys),
		partnerKeyIP:   ratelimit.NewSet(l.PartnerKeyPerIP, l.MaxKeys),
		invites:        ratelimit.NewSet(l.InvitePerAccount, l.MaxKeys),
		inviteTTL:      o.InviteTTL,
		dummyHash:      dummy,
		routing:        o.Routing,
		brander:        o.Brander,
	}
	s.startResetQueue()
	return s, nil
}

// Principal is who a request acts as: a signed-in user of an account, or an API key of an
// account.
type Principal struct {
	Account store.Account
	// User is the signed-in user; zero for an API key. Its PasswordHash is always empty.
	User store.User
	// SessionID is the stored id (the token's hash) of the session; empty for an API key.
	SessionID string
	// CSRFTokenHash is the hash of the session's CSRF token; see VerifyCSRF.
	CSRFTokenHash string
	// APIKey is the key the request presented; zero for a session.
	APIKey APIKey
}

// ViaAPIKey tells whether the principal is an API key rather than a signed-in user.
func (p Principal) ViaAPIKey() bool { return p.APIKey.ID != "" }

// Actor is how the audit log names the principal.
func (p Principal) Actor() string {
	if p.ViaAPIKey() {
		return "apikey:" + p.APIKey.ID
	}
	return p.User.ID
}

// person is the user the principal acts for: the signed-in user, or the user who made the
// API key (empty for a key from before that was recorded).
func (p Principal) person() string {
	if p.ViaAPIKey() {
		return p.APIKey.CreatedBy
	}
	return p.User.ID
}

// Allows tells whether the principal may act within scope: a signed-in user's role is
// checked by each operation, a key must carry the scope.
func (p Principal) Allows(scope string) bool {
	if !p.ViaAPIKey() {
		return true
	}
	return slices.Contains(p.APIKey.Scopes, scope)
}

// VerifyCSRF tells whether token is the CSRF token of the principal's session, comparing
// hashes in constant time. It is false for an API key, which needs no CSRF token.
func (p Principal) VerifyCSRF(token string) bool {
	if p.SessionID == "" || token == "" || len(token) > maxTokenLength {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(store.HashToken(token)), []byte(p.CSRFTokenHash)) == 1
}

// SessionTokens are a new session's secrets, given to the browser once: Token goes in the
// session cookie, CSRFToken is sent back in a header with each state-changing request.
type SessionTokens struct {
	Token     string
	CSRFToken string
	ExpiresAt time.Time
	// Lifetime is how long the session lasts from its start, for a cookie's Max-Age: a
	// browser whose clock differs from the server's keeps the cookie as long all the same.
	Lifetime time.Duration
}

// SignUpInput is a new account with its owner.
type SignUpInput struct {
	// AccountType is TypeIndividual or TypeBusiness.
	AccountType string
	// AccountName is required for a business; an individual's account is named after the
	// person when it is empty.
	AccountName string
	Email       string
	DisplayName string
	Password    string
	// Country is of the person's (a business's) address, BillingCountry of the billing
	// address (Country if empty): ISO 3166-1 alpha-2 codes, which the jurisdiction policy
	// decides by. Required when a policy is running.
	Country, BillingCountry string
	// ClientIP is the address the request came from, for rate limiting.
	ClientIP string
	// Jurisdiction is where the user signs up from (US, EU, CN; empty if unknown), and
	// HomeRegion the home region they chose (empty: the one proposed for Jurisdiction).
	// The home region keeps the account's data; it must be this node's (see
	// CodeHomeRegionElsewhere).
	Jurisdiction string
	HomeRegion   string
}

// SignUp creates an account on the free plan with its owner, and signs the owner in.
func (s *Service) SignUp(ctx context.Context, in SignUpInput) (Principal, SessionTokens, error) {
	email, err := checkEmail(in.Email)
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	display, err := checkName("display name", in.DisplayName)
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	name := strings.TrimSpace(in.AccountName)
	switch in.AccountType {
	case TypeBusiness:
		if name, err = checkName("account name", name); err != nil {
			return Principal{}, SessionTokens{}, err
		}
	case TypeIndividual:
		if name == "" {
			name = display
		} else if name, err = checkName("account name", name); err != nil {
			return Principal{}, SessionTokens{}, err
		}
	default:
		return Principal{}, SessionTokens{}, invalid(`account type must be "individual" or "business"`)
	}
	if !passwordLengthOK(in.Password) {
		return Principal{}, SessionTokens{}, weakPassword()
	}
	country, billing, err := s.checkCountries(in.Country, in.BillingCountry)
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	home, err := s.signUpHome(in.Jurisdiction, in.HomeRegion)
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	if ok, wait := s.signUpIP.Take(ratelimit.IPKey(in.ClientIP), s.now()); !ok {
		s.refused(ctx, in.ClientIP, "anonymous", "account.sign_up", "", "rate_limited", "ip="+in.ClientIP)
		return Principal{}, SessionTokens{}, rateLimited(wait)
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		if errors.Is(err, ErrWeakPassword) {
			return Principal{}, SessionTokens{}, weakPassword()
		}
		return Principal{}, SessionTokens{}, err
	}
	if err := s.emailFree(ctx, email, in.ClientIP); err != nil {
		return Principal{}, SessionTokens{}, err
	}
	// The account's id is drawn here, so that its routing facts are in the directory
	// before its data is in the store (see addCredential).
	accountID := rand.Text()
	if s.routing != nil {
		if err := s.routing.AddAccount(ctx, accountID, email); err != nil {
			return Principal{}, SessionTokens{}, controlPlane("the sign-up", err)
		}
	}
	now := s.now()
	if err := s.decideRegister(ctx, in.AccountType, country, billing, in.ClientIP, now); err != nil {
		return Principal{}, SessionTokens{}, err
	}
	a, u, err := s.store.CreateAccountWithOwner(ctx,
		store.Account{ID: accountID, Type: in.AccountType, Name: name, Plan: string(Free), Region: home.ID, Country: country,
			BillingCountry: billing, CreatedAt: now},
		store.User{Email: email, DisplayName: display, PasswordHash: hash, CreatedAt: now})
	if errors.Is(err, store.ErrConflict) {
		s.refused(ctx, in.ClientIP, "anonymous", "account.sign_up", "", "email_taken", "ip="+in.ClientIP)
		return Principal{}, SessionTokens{}, ErrEmailTaken
	}
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	s.audit(ctx, u.ID, "account.sign_up", a.ID, "ok",
		"type="+a.Type+" home="+a.Region+" country="+a.Country+" billing_country="+a.BillingCountry+" ip="+in.ClientIP)
	sess, tokens, err := s.newSession(ctx, u.ID, now)
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	return sessionPrincipal(a, u, sess), tokens, nil
}

// SignIn checks an email address and password and starts a session. A wrong password and
// an unknown address get the same error after the same work. Failed attempts are limited
// per client address and per client address and email address: over either limit that
// client's attempts, right or wrong, get ErrRateLimited until the bucket refills. Failures
// from all clients against one email address only slow its sign-ins (see Limits), so that
// nobody elsewhere can keep the owner out.
func (s *Service) SignIn(ctx context.Context, email, password, clientIP string) (Principal, SessionTokens, error) {
	if strings.TrimSpace(email) == "" || password == "" {
		return Principal{}, SessionTokens{}, invalid("email and password are required")
	}
	email = store.NormalizeEmail(email)
	if len(email) > maxEmailLength { // no user has one; and it would be a large bucket key
		return Principal{}, SessionTokens{}, invalid("the email address is too long")
	}
	gate, err := s.beginSignIn(ctx, email, clientIP)
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	failed := false
	defer func() { gate.end(failed) }()

	u, err := s.store.GetUserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_, _ = CheckPassword(s.dummyHash, password) // the same work as a wrong password
		failed = true
		s.refused(ctx, clientIP, "anonymous", "user.sign_in", "", "denied", "unknown email; ip="+clientIP)
		return Principal{}, SessionTokens{}, ErrInvalidCredentials
	case err != nil:
		return Principal{}, SessionTokens{}, err
	}
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		s.log.ErrorContext(ctx, "stored password hash is unreadable", "user", u.ID, "err", err)
	}
	if !ok {
		failed = true
		s.refused(ctx, clientIP, u.ID, "user.sign_in", u.ID, "denied", "wrong password; ip="+clientIP)
		return Principal{}, SessionTokens{}, ErrInvalidCredentials
	}
	a, err := s.store.GetAccount(ctx, u.AccountID)
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	sess, tokens, err := s.newSession(ctx, u.ID, s.now())
	if err != nil {
		return Principal{}, SessionTokens{}, err
	}
	s.audit(ctx, u.ID, "user.sign_in", u.ID, "ok", "ip="+clientIP)
	return sessionPrincipal(a, u, sess), tokens, nil
}

// SignOut ends the session whose token this is. An unknown or already ended session is
// not an error.
func (s *Service) SignOut(ctx context.Context, token string) error {
	if token == "" || len(token) > maxTokenLength {
		return nil
	}
	sess, err := s.store.GetSession(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.store.RevokeSession(ctx, token, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.removeCredential(ctx, CredentialSession, token)
	s.audit(ctx, sess.UserID, "user.sign_out", sess.UserID, "ok", "")
	return nil
}

// Authenticate returns the principal of an active session, or ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > maxTokenLength {
		return Principal{}, ErrUnauthenticated
	}
	sess, err := s.store.GetSession(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if !sess.Active(s.now()) {
		return Principal{}, ErrUnauthenticated
	}
	u, err := s.store.GetUser(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	a, err := s.store.GetAccount(ctx, u.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	return sessionPrincipal(a, u, sess), nil
}

// ChangePassword replaces a signed-in user's password after checking the current one.
// Every session of the user ends, the caller's included, and the caller gets a new one in
// its place: so every other session is revoked and the caller stays signed in with fresh
// tokens. Wrong current passwords are limited per user, and count against the ceiling of
// the user's email address as failed sign-ins do.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string) (SessionTokens, error) {
	if p.ViaAPIKey() || p.User.ID == "" {
		return SessionTokens{}, forbidden("only a signed-in user can change their password")
	}
	if current == "" {
		return SessionTokens{}, invalid("the current password is required")
	}
	if !passwordLengthOK(next) {
		return SessionTokens{}, weakPassword()
	}
	now := s.now()
	b, wait := s.changePassword.Begin(p.User.ID, now)
	if b == nil {
		s.audit(ctx, p.User.ID, "user.password_change", p.User.ID, "rate_limited", "")
		return SessionTokens{}, rateLimited(wait)
	}
	emB, delay := s.signInEmail.Slow(p.User.Email, now, s.maxDelay)
	failed := false
	defer func() {
		t := s.now()
		s.changePassword.End(b, t, failed)
		s.signInEmail.End(emB, t, failed)
	}()
	if err := s.sleep(ctx, delay); err != nil {
		return SessionTokens{}, fmt.Errorf("account: password change slowed by its email's ceiling: %w", err)
	}

	u, err := s.store.GetUser(ctx, p.User.ID)
	if err != nil {
		return SessionTokens{}, err
	}
	if ok, _ := CheckPassword(u.PasswordHash, current); !ok {
		failed = true
		s.audit(ctx, u.ID, "user.password_change", u.ID, "denied", "wrong current password")
		return SessionTokens{}, &Error{Code: CodeInvalidCredentials, Message: "the current password is wrong"}
	}
	hash, err := HashPassword(next)
	if err != nil {
		if errors.Is(err, ErrWeakPassword) {
			return SessionTokens{}, weakPassword()
		}
		return SessionTokens{}, err
	}
	if err := s.store.UpdatePasswordHash(ctx, u.ID, hash); err != nil {
		return SessionTokens{}, err
	}
	now = s.now()
	n, err := s.store.RevokeUserSessions(ctx, u.ID, now)
	if err != nil {
		return SessionTokens{}, err
	}
	_, tokens, err := s.newSession(ctx, u.ID, now)
	if err != nil {
		return SessionTokens{}, err
	}
	s.audit(ctx, u.ID, "user.password_change", u.ID, "ok", fmt.Sprintf("%d sessions revoked", n))
	return tokens, nil
}

// RequestPasswordReset mails a one-time reset link, valid for the Service's ResetTTL, to
// the user with this address. To the caller it succeeds whether or not the address has a
// user (and when the mail cannot be sent, which is logged), so that it does not tell
// which addresses have accounts; only a malformed address is refused. The address is
// looked up and the mail sent by the Service's reset queue after the request returns, so
// that the request takes the same time either way, however slow the mail server.
// Requests over the per-address limit, or that find the queue full, are dropped silently.
// The link is resetURLBase with the token added as the query parameter "token".
func (s *Service) RequestPasswordReset(ctx context.Context, email, resetURLBase string) error {
	email, err := checkEmail(email)
	if err != nil {
		return err
	}
	link, err := url.Parse(resetURLBase)
	if err != nil || !link.IsAbs() {
		return fmt.Errorf("account: reset url base %q is not an absolute URL", resetURLBase)
	}
	now := s.now()
	if ok, _ := s.resetEmail.Take(email, now); !ok {
		s.audit(ctx, "anonymous", "user.password_reset_request", "", "rate_limited", "")
		return nil
	}
	job := resetJob{email: email, link: link, at: now}
	if !s.resets.enqueue(func(ctx context.Context) { s.sendReset(ctx, job) }) {
		s.log.WarnContext(ctx, "password reset dropped: the mail queue is full or closed")
		s.audit(ctx, "anonymous", "user.password_reset_request", "", "dropped", "mail queue full or closed")
	}
	return nil
}

// ResetPassword sets a new password with a token from a reset mail. The token works once
// and only before it expires; using it ends every session of the user.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	if !passwordLengthOK(newPassword) {
		return weakPassword()
	}
	if token == "" || len(token) > maxTokenLength {
		return ErrInvalidToken
	}
	hash, err := HashPassword(newPassword)
	if err != nil {
		if errors.Is(err, ErrWeakPassword) {
			return weakPassword()
		}
		return err
	}
	userID, err := s.store.ConsumePasswordReset(ctx, token, hash, s.now())
	if errors.Is(err, store.ErrNotFound) {
		s.audit(ctx, "anonymous", "user.password_reset", "", "invalid_token", "")
		return ErrInvalidToken
	}
	if err != nil {
		return err
	}
	s.audit(ctx, userID, "user.password_reset", userID, "ok", "all sessions revoked")
	return nil
}

// newSession stores a session for a user with fresh random tokens.
func (s *Service) newSession(ctx context.Context, userID string, now time.Time) (store.Session, SessionTokens, error) {
	t := SessionTokens{Token: rand.Text(), CSRFToken: rand.Text(), ExpiresAt: now.Add(s.sessionTTL)}
	if err := s.addCredential(ctx, CredentialSession, t.Token); err != nil {
		return store.Session{}, SessionTokens{}, err
	}
	sess, err := s.store.CreateSession(ctx, store.NewSession{
		Token: t.Token, CSRFToken: t.CSRFToken, UserID: userID, CreatedAt: now, ExpiresAt: t.ExpiresAt,
	})
	if err != nil {
		return store.Session{}, SessionTokens{}, err
	}
	t.ExpiresAt, t.Lifetime = sess.ExpiresAt, sess.ExpiresAt.Sub(now)
	return sess, t, nil
}

func sessionPrincipal(a store.Account, u store.User, sess store.Session) Principal {
	u.PasswordHash = ""
	return Principal{Account: a, User: u, SessionID: sess.ID, CSRFTokenHash: sess.CSRFTokenHash}
}

// audit appends a decision to the audit log (see auditlog.Log.Write). A refusal of an
// anonymous request is a refusal of unauthenticated traffic, summed as refused sums them.
func (s *Service) audit(ctx context.Context, actor, action, subject, outcome, detail string) {
	s.auditLog.Record(ctx, "", store.AuditEntry{
		At: s.now(), Actor: actor, Action: action, Subject: subject, Outcome: outcome, Detail: detail,
	})
}

// refused records a refusal of an unauthenticated request from clientIP: repeats are
// summed, so that guessing cannot grow the log without bound (see auditlog.Log.Refusal).
func (s *Service) refused(ctx context.Context, clientIP, actor, action, subject, outcome, detail string) {
	s.auditLog.Refusal(ctx, clientIP, store.AuditEntry{
		At: s.now(), Actor: actor, Action: action, Subject: subject, Outcome: outcome, Detail: detail,
	})
}

func rateLimited(wait time.Duration) error {
	e := *ErrRateLimited
	e.RetryAfter = max(wait, time.Second)
	return &e
}

// checkEmail returns a plain address (no display name, no comments) in the store's form.
func checkEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", invalid("an email address is required")
	}
	if len(email) > maxEmailLength {
		return "", invalid("the email address is too long")
	}
	a, err := netmail.ParseAddress(email)
	if err != nil || a.Address != email {
		return "", invalid("the email address is not valid")
	}
	return store.NormalizeEmail(email), nil
}

// checkName returns a trimmed name of 1 to maxNameLength characters that is shown as it
// reads: see package label.
func checkName(what, name string) (string, error) {
	name = strings.TrimSpace(name)
	if e := label.Check(what, name, maxNameLength); e != nil {
		return "", &Error{Code: e.Code, Message: e.Message}
	}
	return name, nil
}

// passwordLengthOK applies HashPassword's bounds without hashing.
func passwordLengthOK(p string) bool {
	return utf8.RuneCountInString(p) >= MinPasswordLength && len(p) <= MaxPasswordLength
}
