package residency

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/httpapi"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/topology"
)

// maxBody is the API's bound on a JSON body; a larger one is left to the API to refuse.
const maxBody = 64 << 10

// body is the fields of the public routes' bodies that say where a request is homed.
type body struct {
	Email        string `json:"email"`
	Token        string `json:"token"`
	MeetingID    string `json:"meeting_id"`
	LinkToken    string `json:"link_token"`
	HomeRegion   string `json:"home_region"`
	Jurisdiction string `json:"jurisdiction"`
}

// home is the region r is homed in: "" when it is for this node to answer (nothing homed
// anywhere, or what it names does not exist, which the API then says), an error when
// the directory cannot tell.
func (f *Forwarder) home(r *http.Request) (string, error) {
	if r.Method == http.MethodPost {
		switch r.URL.Path {
		case "/api/signup":
			b, raw := readBody(r)
			return f.signUpHome(r, b, raw), nil
		case "/api/signin", "/api/password/reset":
			if b, _ := readBody(r); b.Email != "" {
				return f.lookup(r.Context(), func(ctx context.Context) (string, error) {
					e, err := f.cfg.Dir.LookupEmail(ctx, directory.EmailKey(f.cfg.DirectorySecret, b.Email))
					return e.HomeRegion, err
				})
			}
		case "/api/password/reset/confirm":
			if b, _ := readBody(r); b.Token != "" {
				return f.credentialHome(r.Context(), account.CredentialReset, b.Token)
			}
		case "/api/invites/lookup", "/api/invites/accept":
			if b, _ := readBody(r); b.Token != "" {
				return f.credentialHome(r.Context(), account.CredentialInvite, b.Token)
			}
		case "/api/join", "/api/join/lookup":
			b, _ := readBody(r)
			if id, ok := meetingID(b); ok {
				return f.lookup(r.Context(), func(ctx context.Context) (string, error) {
					m, err := f.cfg.Dir.Meeting(ctx, id)
					return m.HomeRegion, err
				})
			}
		}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, key, _ := strings.Cut(h, " ")
		if prefix, ok := account.APIKeyPrefix(strings.TrimSpace(key)); ok && strings.EqualFold(scheme, "Bearer") {
			return f.credentialHome(r.Context(), account.CredentialAPIKey, prefix)
		}
		// A partner is served in the region of its record, keys and customers.
		if prefix, ok := account.PartnerKeyPrefix(strings.TrimSpace(key)); ok && strings.EqualFold(scheme, "Bearer") {
			return f.credentialHome(r.Context(), account.CredentialPartnerKey, prefix)
		}
		return "", nil // the API refuses it as it is
	}
	if c, err := r.Cookie(httpapi.SessionCookie); err == nil && c.Value != "" {
		return f.credentialHome(r.Context(), account.CredentialSession, c.Value)
	}
	return "", nil
}

func (f *Forwarder) credentialHome(ctx context.Context, kind account.Credential, value string) (string, error) {
	return f.lookup(ctx, func(ctx context.Context) (string, error) {
		s, err := f.cfg.Dir.Session(ctx, CredentialKey(f.cfg.DirectorySecret, kind, value))
		return s.HomeRegion, err
	})
}

// lookup asks get for a home, again for up to LagWait while it is not found: what
// another region wrote a moment ago reaches this region's view a few milliseconds later.
// Not found at all, it is this node's to answer (the API refuses the unknown).
func (f *Forwarder) lookup(ctx context.Context, get func(context.Context) (string, error)) (string, error) {
	deadline := time.Now().Add(f.cfg.LagWait)
	for {
		home, err := get(ctx)
		if err == nil {
			return home, nil
		}
		if !errors.Is(err, directory.ErrNotFound) {
			return "", err
		}
		if time.Now().After(deadline) {
			return "", nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// signUpHome is the region a sign-up will be homed in: the one it asks for, or the one
// proposed for its jurisdiction from this node's region (as the account service
// proposes). A sign-up forwarded on the proposal names it as home_region, so that the
// home node, which proposes from its own location, homes it where this node decided.
func (f *Forwarder) signUpHome(r *http.Request, b body, raw map[string]json.RawMessage) string {
	if asked := strings.TrimSpace(b.HomeRegion); asked != "" {
		if reg, ok := f.cfg.Deployment.Lookup(asked); ok && reg.Partner == "" {
			return reg.ID
		}
		// The API here refuses an unknown region, and a partner's: a sign-up through the
		// operator is no partner's customer, and its personal data is not sent to the
		// partner's data center only to be refused there.
		return ""
	}
	j := strings.ToUpper(strings.TrimSpace(b.Jurisdiction))
	if j != "" && !topology.ValidJurisdiction(j) {
		return ""
	}
	self, _ := f.cfg.Deployment.Lookup(f.cfg.Region)
	proposed, err := topology.DefaultHome(f.cfg.Deployment, j, &self.Location)
	if err != nil || proposed.ID == f.cfg.Region || raw == nil {
		return ""
	}
	home, _ := json.Marshal(proposed.ID)
	raw["home_region"] = home
	data, err := json.Marshal(raw)
	if err != nil {
		return ""
	}
	setBody(r, data)
	return proposed.ID
}

// readBody decodes the fields of r's JSON body that say where it is homed, leaving the
// body for the API to read as it came. A body that is not one JSON object, or too large,
// decodes as nothing: the API refuses it.
func readBody(r *http.Request) (body, map[string]json.RawMessage) {
	if r.Body == nil {
		return body{}, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(data) > maxBody {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), r.Body), r.Body}
		return body{}, nil
	}
	setBody(r, data)
	var b body
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &b) != nil || json.Unmarshal(data, &raw) != nil {
		return body{}, nil
	}
	return b, raw
}

func setBody(r *http.Request, data []byte) {
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

// meetingID is the meeting a join or lookup names: by its join link's token (which
// starts with the id; the home region checks the rest) or its id.
func meetingID(b body) (string, bool) {
	if tok := strings.TrimSpace(b.LinkToken); tok != "" {
		// As the API reads it: the token, or the whole link pasted.
		if i := strings.LastIndex(tok, "/j/"); i >= 0 {
			tok = tok[i+len("/j/"):]
		}
		if len(tok) < meeting.IDDigits {
			return "", false
		}
		id, ok := meeting.NormalizeID(tok[:meeting.IDDigits])
		return id, ok && id == tok[:meeting.IDDigits]
	}
	if b.MeetingID != "" {
		return meeting.NormalizeID(b.MeetingID)
	}
	return "", false
}
