package residency

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/directory"
)

// mapDirectory is a test double of the routing directory holding sessions (credential
// homes) in a map; the rest is not used here.
type mapDirectory struct {
	Directory
	mu       sync.Mutex
	sessions map[string]directory.Session
}

func (d *mapDirectory) PutSession(_ context.Context, s directory.Session) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sessions[s.ID] = s
	return nil
}

func (d *mapDirectory) Session(_ context.Context, id string) (directory.Session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sessions[id]
	if !ok {
		return directory.Session{}, directory.ErrNotFound
	}
	return s, nil
}

// A partner key's request is homed where the key was made: the region of the partner's
// record, keys and customers. The same characters as an account's key are not.
func TestPartnerKeyIsHomedWithItsPartner(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	dir := &mapDirectory{sessions: map[string]directory.Session{}}
	prefix := "abcdefghijkl"
	if err := (&Facts{Dir: dir, Region: "eu-central", Secret: secret}).AddCredential(t.Context(), account.CredentialPartnerKey, prefix); err != nil {
		t.Fatal(err)
	}
	f := &Forwarder{cfg: Config{Dir: dir, DirectorySecret: secret, LagWait: time.Millisecond}}
	for key, want := range map[string]string{
		"pk_" + prefix + "_" + strings.Repeat("a", 26): "eu-central",
		"mk_" + prefix + "_" + strings.Repeat("a", 26): "", // an account key's home is its own fact
		"pk_" + prefix: "", // not a key: the API refuses it here
	} {
		r := httptest.NewRequest("GET", "/api/partner/customers", nil)
		r.Header.Set("Authorization", "Bearer "+key)
		got, err := f.home(r)
		if err != nil || got != want {
			t.Errorf("%s: home %q, %v; want %q", key, got, err, want)
		}
	}
}
