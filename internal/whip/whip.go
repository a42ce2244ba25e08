// Package whip serves WHIP ingest (RFC 9725) and WHEP playback: an encoder such as OBS
// posts an SDP offer to publish into a room, a player posts one to watch it. Each session
// gets an unguessable resource URL, which DELETE ends.
package whip

import (
	"context"
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

	"github.com/meridian-video/meridian/internal/admission"
	"github.com/meridian-video/meridian/internal/sfu"
	"github.com/meridian-video/meridian/internal/token"
)

// maxOffer bounds an offer's size.
const maxOffer = 64 << 10

// Verifier checks join tokens.
type Verifier interface {
	Verify(ctx context.Context, tok string) (*token.Claims, error)
}

// Admitter decides who enters a room, on every way in (*admission.Gate).
type Admitter interface {
	Enter(ctx context.Context, req admission.Request) (*admission.Entry, error)
}

// Handler serves /whip/ and /whep/.
type Handler struct {
	gate   Admitter
	tokens Verifier // for DELETE, which ends a session and enters nothing
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

// New returns the WHIP/WHEP handler: gate admits sessions, tokens verifies the token of
// a DELETE.
func New(gate Admitter, tokens Verifier, log *slog.Logger) *Handler {
	return &Handler{gate: gate, tokens: tokens, log: log, sessions: map[string]*session{}}
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

// bearer is the token of an Authorization header; the scheme is case-insensitive (RFC
// 9110 section 11.1).
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func (h *Handler) authorize(r *http.Request, room string) (*token.Claims, int, string, string) {
	tok := bearer(r)
	if tok == "" {
		return nil, http.StatusUnauthorized, "token_missing", "send Authorization: Bearer <join token>"
	}
	c, err := h.tokens.Verify(r.Context(), tok)
	switch {
	case errors.Is(err, token.ErrExpired):
		return nil, http.StatusUnauthorized, "token_expired", "the join token has expired"
	case errors.Is(err, token.ErrWrongRegionKey):
		return nil, http.StatusForbidden, admission.CodeWrongRegionKey, "the join token was not issued by the meeting's home region"
	case errors.Is(err, token.ErrHomeUnavailable):
		return nil, http.StatusServiceUnavailable, admission.CodeControlPlaneUnavailable, "the meeting's home region cannot be reached now; try again"
	case err != nil:
		return nil, http.StatusUnauthorized, "token_invalid", "the join token is not valid"
	case c.Room != room:
		return nil, http.StatusForbidden, "wrong_room", "the token is for another room"
	}
	return c, 0, "", ""
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, kind, room string) {
	tok := bearer(r)
	if tok == "" {
		writeError(w, http.StatusUnauthorized, admission.CodeTokenMissing, "send Authorization: Bearer <join token>")
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
	path := admission.PathWHEP
	if kind == "whip" {
		path = admission.PathWHIP
	}
	e, err := h.gate.Enter(r.Context(), admission.Request{
		Path: path, Token: tok, Room: room, ID: kind + "-" + id[:12], Sink: &endSink{h: h, id: id},
	})
	if err != nil {
		status, code, msg := refusal(err)
		writeError(w, status, code, msg)
		return
	}
	claims, p := e.Claims, e.Participant
	sess := &session{kind: kind, identity: claims.Identity, secret: id, p: p}
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
		status, code, msg := http.StatusBadRequest, "bad_sdp", err.Error()
		if reason, ended := p.Ended(); ended {
			status, code, msg = endedWhileAnswering(reason)
		}
		h.end(id)
		writeError(w, status, code, msg)
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

// refusal is the HTTP form of a refused entry. Only a closing room and an unreachable home
// region are 503, which players retry: the others stand until something changes that the
// client cannot wait out here.
func refusal(err error) (status int, code, msg string) {
	var e *admission.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError, admission.CodeInternal, "something went wrong on the server"
	}
	switch e.Code {
	case admission.CodeTokenMissing, admission.CodeTokenInvalid, admission.CodeTokenExpired:
		return http.StatusUnauthorized, e.Code, e.Message
	case admission.CodeEnded:
		return http.StatusGone, e.Code, e.Message
	case admission.CodeRoomClosed, admission.CodeControlPlaneUnavailable:
		return http.StatusServiceUnavailable, e.Code, e.Message
	case admission.CodeInternal:
		return http.StatusInternalServerError, e.Code, e.Message
	}
	// wrong_room, not_allowed, waiting, denied, removed, locked, full
	return http.StatusForbidden, e.Code, e.Message
}

// endedWhileAnswering is the answer to an offer whose session was closed before its answer
// was made: not the offer's fault, so not bad_sdp. The same token opened again at once
// (its new session replaced this one), the host removing the identity or ending the
// meeting, or the room closing.
func endedWhileAnswering(reason string) (status int, code, msg string) {
	switch reason {
	case sfu.ReasonReplaced:
		return http.StatusConflict, "replaced", "a newer session with this token took this one's place"
	case admission.CodeRemoved:
		return http.StatusForbidden, admission.ErrRemoved.Code, admission.ErrRemoved.Message
	case "ended", "time_limit": // meeting.EndedByHost, meeting.EndedByTimeLimit
		return http.StatusGone, admission.ErrEnded.Code, admission.ErrEnded.Message
	}
	return http.StatusServiceUnavailable, admission.CodeRoomClosed, "the room closed as the offer was answered; try again"
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
