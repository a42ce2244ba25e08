package account

import (
	"context"
	"fmt"
)

// Routing records, in a multi-region deployment's directory, the routing facts of what
// this node's region keeps, so that a request for it reaching another region is forwarded
// here: an account's home, its email address's home (to find it at sign-in and to keep
// one address to one account across regions), and the home of its credentials. The
// implementation stores only keyed hashes of emails and credentials, never the values;
// nil Options.Routing is a one-region deployment, which needs none of it.
type Routing interface {
	// EmailHome returns the home region of the account with this (normalised) address,
	// found false when no region has one.
	EmailHome(ctx context.Context, email string) (home string, found bool, err error)
	// AddAccount records an account homed in this node's region, with its address.
	AddAccount(ctx context.Context, accountID, email string) error
	// AddEmail records the address of another user of an account homed in this node's
	// region (a member who accepted an invitation); RemoveEmail forgets an address of this
	// region (a member removed), so that it may sign up again anywhere.
	AddEmail(ctx context.Context, accountID, email string) error
	RemoveEmail(ctx context.Context, email string) error
	// AddCredential records that a credential of kind (a session token, an API key's
	// public prefix, a password-reset or invitation token) is homed in this node's region;
	// RemoveCredential forgets it.
	AddCredential(ctx context.Context, kind Credential, value string) error
	RemoveCredential(ctx context.Context, kind Credential, value string) error
}

// Credential is a kind of credential whose home the directory keeps.
type Credential string

// Credential kinds.
const (
	CredentialSession Credential = "session" // the session cookie's token
	CredentialAPIKey  Credential = "apikey"  // an API key's public prefix
	CredentialReset   Credential = "reset"   // a password-reset token
	// CredentialPartnerKey is a partner API key's public prefix: a partner's requests are
	// served in the region that keeps the partner's record, keys and customers.
	CredentialPartnerKey Credential = "partnerkey"
	CredentialInvite     Credential = "invite" // a member invitation's token
)

// CodeControlPlaneUnavailable: the directory, which a multi-region deployment needs to
// keep an account's data in its home region, did not answer; nothing was done.
const CodeControlPlaneUnavailable = "control_plane_unavailable"

func controlPlane(what string, err error) error {
	return &Error{Code: CodeControlPlaneUnavailable,
		Message: "the deployment's directory is not answering, so " + what + " cannot be done now; try again shortly",
		err:     fmt.Errorf("directory: %w", err)}
}

// emailFree refuses an address that an account of another region already has: one
// address is one account across the deployment. Within this region the store's unique
// index decides, as before: it has the truth where the directory may hold a fact of a
// sign-up whose store write then failed (the facts are written first).
func (s *Service) emailFree(ctx context.Context, email, clientIP string) error {
	home, err := s.emailElsewhere(ctx, email, "the sign-up")
	if err != nil {
		return err
	}
	if home != "" {
		s.refused(ctx, clientIP, "anonymous", "account.sign_up", "", "email_taken", "ip="+clientIP+" home="+home)
		return ErrEmailTaken
	}
	return nil
}

// emailElsewhere returns the region of another region's account that has this address,
// or "" when none has (or in one region, where the store alone decides); what names the
// operation for the refusal when the directory does not answer.
func (s *Service) emailElsewhere(ctx context.Context, email, what string) (string, error) {
	if s.routing == nil {
		return "", nil
	}
	home, found, err := s.routing.EmailHome(ctx, email)
	if err != nil {
		return "", controlPlane(what, err)
	}
	if found && home != s.regions.self.ID {
		return home, nil
	}
	return "", nil
}

// addCredential records a credential's home before the credential is stored, so that a
// credential never exists without the fact that routes it: a fact without a credential
// only forwards a request to the home region, which refuses it.
func (s *Service) addCredential(ctx context.Context, kind Credential, value string) error {
	if s.routing == nil {
		return nil
	}
	if err := s.routing.AddCredential(ctx, kind, value); err != nil {
		return controlPlane("a new "+string(kind)+" credential", err)
	}
	return nil
}

// removeCredential forgets a credential's home; a failure is logged, since the fact left
// behind only routes the dead credential to its home region, which refuses it.
func (s *Service) removeCredential(ctx context.Context, kind Credential, value string) {
	if s.routing == nil {
		return
	}
	if err := s.routing.RemoveCredential(ctx, kind, value); err != nil {
		s.log.WarnContext(ctx, "directory: credential's home not removed", "kind", kind, "err", err)
	}
}

// APIKeyPrefix returns the public prefix of a string shaped like an API key
// ("mk_<prefix>_<secret>"), under which its home is recorded; false for any other string.
func APIKeyPrefix(key string) (string, bool) {
	prefix, _, ok := parseAPIKey(key)
	return prefix, ok
}

// PartnerKeyPrefix returns the public prefix of a string shaped like a partner API key
// ("pk_<prefix>_<secret>"), under which its home is recorded; false for any other string.
func PartnerKeyPrefix(key string) (string, bool) {
	prefix, _, ok := parseKey(partnerKeyTag, key)
	return prefix, ok
}
