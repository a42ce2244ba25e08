// Package residency keeps each account's data at rest in its home region in a multi-region
// deployment. It records in the directory the routing facts of what a region keeps (the
// homes of accounts, meetings, and of keyed hashes of email addresses and credentials;
// never an address, a credential, a name or a topic), and it forwards an API request that
// reaches a node outside its home region to a node of that region, which serves it. The
// node that forwards keeps nothing of the request.
package residency

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"github.com/meridian-video/meridian/internal/account"
)

// CredentialKey is the directory key of a credential's home: HMAC-SHA256 under the
// directory secret of the credential, labelled with its kind so that one kind's key
// says nothing of another's, base64url. The credential itself (a bearer token) is never
// in the directory, and without the secret its key cannot be tested against guesses.
func CredentialKey(secret []byte, kind account.Credential, value string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("meridian/residency/credential/v1\x00" + string(kind) + "\x00"))
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
