package residency

import (
	"context"
	"errors"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/topology"
)

// Directory is what Facts and the Forwarder need of the routing directory
// (*directory.Directory has it all).
type Directory interface {
	PutAccount(ctx context.Context, a directory.Account) error
	PutEmail(ctx context.Context, e directory.Email) error
	LookupEmail(ctx context.Context, hash string) (directory.Email, error)
	DeleteEmail(ctx context.Context, hash string) error
	PutSession(ctx context.Context, s directory.Session) error
	Session(ctx context.Context, id string) (directory.Session, error)
	DeleteSession(ctx context.Context, id string) error
	PutMeeting(ctx context.Context, m directory.Meeting) error
	Meeting(ctx context.Context, id string) (directory.Meeting, error)
}

// Facts writes the routing facts of what this node's region keeps; it is the
// account.Routing and meeting.Routing of a node in a multi-region deployment.
type Facts struct {
	Dir Directory
	// Region is this node's region, the home of everything it records.
	Region string
	// Secret is the deployment's directory secret, which keys the hashes of addresses
	// and credentials.
	Secret []byte
}

// EmailHome implements account.Routing.
func (f *Facts) EmailHome(ctx context.Context, email string) (string, bool, error) {
	e, err := f.Dir.LookupEmail(ctx, directory.EmailKey(f.Secret, email))
	if errors.Is(err, directory.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return e.HomeRegion, true, nil
}

// AddAccount implements account.Routing.
func (f *Facts) AddAccount(ctx context.Context, accountID, email string) error {
	if err := f.Dir.PutAccount(ctx, directory.Account{ID: accountID, HomeRegion: f.Region}); err != nil {
		return err
	}
	return f.Dir.PutEmail(ctx, directory.Email{Hash: directory.EmailKey(f.Secret, email), AccountID: accountID, HomeRegion: f.Region})
}

// AddEmail implements account.Routing.
func (f *Facts) AddEmail(ctx context.Context, accountID, email string) error {
	return f.Dir.PutEmail(ctx, directory.Email{Hash: directory.EmailKey(f.Secret, email), AccountID: accountID, HomeRegion: f.Region})
}

// RemoveEmail implements account.Routing; an address never recorded is no error.
func (f *Facts) RemoveEmail(ctx context.Context, email string) error {
	err := f.Dir.DeleteEmail(ctx, directory.EmailKey(f.Secret, email))
	if errors.Is(err, directory.ErrNotFound) {
		return nil
	}
	return err
}

// AddCredential implements account.Routing: a credential's home is a directory session
// fact under the credential's keyed hash.
func (f *Facts) AddCredential(ctx context.Context, kind account.Credential, value string) error {
	return f.Dir.PutSession(ctx, directory.Session{ID: CredentialKey(f.Secret, kind, value), HomeRegion: f.Region})
}

// RemoveCredential implements account.Routing; a credential never recorded is no error.
func (f *Facts) RemoveCredential(ctx context.Context, kind account.Credential, value string) error {
	err := f.Dir.DeleteSession(ctx, CredentialKey(f.Secret, kind, value))
	if errors.Is(err, directory.ErrNotFound) {
		return nil
	}
	return err
}

// MeetingTaken implements meeting.Routing.
func (f *Facts) MeetingTaken(ctx context.Context, id string) (bool, error) {
	_, err := f.Dir.Meeting(ctx, id)
	if errors.Is(err, directory.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// AddMeeting implements meeting.Routing. A scheduled meeting may be carried by its home
// region only until it goes live and takes its account's allowed set.
func (f *Facts) AddMeeting(ctx context.Context, id string) error {
	home, err := topology.NewAllowedSet(f.Region)
	if err != nil {
		return err
	}
	return f.Dir.PutMeeting(ctx, directory.Meeting{ID: id, HomeRegion: f.Region, Allowed: home})
}
