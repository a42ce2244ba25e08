// Package whip serves WHIP ingest (RFC 9725) and WHEP playback: an encoder such as OBS
// posts an SDP offer to publish into a room, a player posts one to watch it. Each session
// gets an unguessable resource URL, which DELETE ends.
package whip

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/meridian-video/meridian/internal/sfu"
	"github.com/meridian-video/meridian/internal/token"
)

// maxOffer bounds an offer's size.
const maxOffer = 64 << 10

// Verifier checks join tokens.
type Verifier interface {
	Verify(tok string) (*token.Claims, error)
}

// Handler serves /whip/ and /whep/.
type Handler struct {
	sfu    *sfu.SFU
	tokens Verifier
	log    *slog.Logger

	mu       sync.Mutex
	sessions map[string]*session
}

type session struct {
	kind     string // "whip" or "whep"
	identity string
	secret   string // the resource id, compared in constant time
	p        *sfu.Participant
}

// New returns the WHIP/WHEP handler.
func New(s *sfu.SFU, tokens Verifier, log *slog.Logger) *Handler {
	return &Handler{sfu: s, tokens: tokens, log: log, sessions: map[string]*session{}}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	room, resource, hasResource := strings.Cut(rest, "/")
	if (kind != "whip" && kind != "whep") || room == "" {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Expose-Headers", "Location")
	switch {
	case r.Method == http.MethodOptions:
		w.Header().Set("Access-Control-Allow-Methods", "POST, DELETE, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		w.Header().Set("Accept-Post", "application/sdp")
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && !hasResource:
		h.create(w, r, kind, room)
	case r.Method == http.MethodDelete && hasResource:
		h.delete(w, r, kind, room, resource)
	case r.Method == http.MethodPatch && hasResource:
		// Trickle and ICE restart by PATCH are optional (RFC 9725 section 4.3); the answer
		// already carries every candidate.
		writeError(w, http.StatusMethodNotAllowed, "trickle_unsupported", "this server sends all candidates in the answer")
	default:
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST to start a session and DELETE to end it")
	}
}

func (h *Handler) authorize(r *http.Request, room string) (*token.Claims, int, string, string) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return nil, http.StatusUnauthorized, "token_missing", "send Authorization: Bearer <join token>"
	}
	c, err := h.tokens.Verify(tok)
	switch {
	case errors.Is(err, token.ErrExpired):
		return nil, http.StatusUnauthorized, "token_expired", "the join token has expired"
	case err != nil:
		return nil, http.StatusUnauthorized, "token_invalid", "the join token is not valid"
	case c.Room != room:
		return nil, http.StatusForbidden, "wrong_room", "the token is for another room"
	}
	return c, 0, "", ""
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, kind, room string) {
	claims, status, code, msg := h.authorize(r, room)
	if claims == nil {
		h.log.Info(kind+" refused", "room", room, "code", code)
		writeError(w, status, code, msg)
		return
	}
	if (kind == "whip" && !claims.Publish) || (kind == "whep" && !claims.Subscribe) {
		writeError(w, http.StatusForbidden, "not_allowed", "the token does not grant this")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		writeError(w, http.StatusUnsupportedMediaType, "bad_content_type", "the offer must be application/sdp")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxOffer+1))
	if err != nil || len(body) == 0 || len(body) > maxOffer {
		writeError(w, http.StatusBadRequest, "bad_sdp", "the offer is empty, unreadable or larger than 64 KiB")
		return
	}

	id := newResourceID()
	sess := &session{kind: kind, identity: claims.Identity, secret: id}
	opts := sfu.JoinOptions{NoTrickle: true}
	if kind == "whip" {
		opts.CanPublish = true
	} else {
		opts.CanSubscribe, opts.ClientOffers = true, true
	}
	sink := &endSink{h: h, id: id}
	p, _, err := h.sfu.Room(room).Join(sfu.ParticipantInfo{ID: kind + "-" + id[:12], Identity: claims.Identity, Name: claims.Name}, opts, sink)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "room_closed", "the room is closing; try again")
		return
	}
	sess.p = p
	h.mu.Lock()
	h.sessions[id] = sess
	h.mu.Unlock()

	var answer string
	if kind == "whip" {
		answer, err = p.HandlePublisherOffer(string(body))
	} else {
		answer, err = p.HandleSubscriberOffer(string(body))
	}
	if err != nil {
		h.end(id)
		writeError(w, http.StatusBadRequest, "bad_sdp", err.Error())
		return
	}
	h.log.Info(kind+" session started", "room", room, "identity", claims.Identity)
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/"+kind+"/"+room+"/"+id)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, kind, room, id string) {
	claims, status, code, msg := h.authorize(r, room)
	if claims == nil {
		writeError(w, status, code, msg)
		return
	}
	h.mu.Lock()
	sess, ok := h.sessions[id]
	h.mu.Unlock()
	if !ok || sess.kind != kind || subtle.ConstantTimeCompare([]byte(sess.secret), []byte(id)) != 1 ||
		sess.identity != claims.Identity || sess.p.Room().Name() != room {
		writeError(w, http.StatusNotFound, "not_found", "no such session")
		return
	}
	h.end(id)
	w.WriteHeader(http.StatusOK)
}

// end closes a session and forgets it.
func (h *Handler) end(id string) {
	h.mu.Lock()
	sess, ok := h.sessions[id]
	delete(h.sessions, id)
	h.mu.Unlock()
	if ok && sess.p != nil {
		sess.p.Close("")
	}
}

// endSink forgets a session when the SFU ends it (connection failed, room closed). WHIP
// and WHEP clients hear nothing else from the server.
type endSink struct {
	h  *Handler
	id string
}

func (s *endSink) Send(ev sfu.Event) {
	if _, ok := ev.(sfu.Closed); ok {
		s.h.mu.Lock()
		delete(s.h.sessions, s.id)
		s.h.mu.Unlock()
	}
}

func newResourceID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// writeError answers with a JSON error. nosniff, because the message may echo what the
// client sent (an SDP parse error), and must never be read as a page.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, msg})
}
