package httpapi

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/clientaddr"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/geoip"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// SignalPath is where the signalling WebSocket is served; a meeting's ticket is presented
// there.
const SignalPath = "/ws"

// meetingAPI serves the /api routes of meetings. Its handlers decode, call
// meeting.Service, and encode: the decisions are the service's.
type meetingAPI struct {
	svc *meeting.Service
	log *slog.Logger
	// publicURL is the server's public base URL, without a trailing slash: join links are
	// publicURL + "/j/" + the meeting's join token, or on the account's OEM partner's
	// domain (see linkBase).
	publicURL string
	// brands tells an account's brand; nil: every link is on publicURL.
	brands *commerce.Service
	// geo tells where a client's address is; nil without GeoIP.
	geo Locator
}

// Locator tells what GeoIP knows of an address (*geoip.DB is one).
type Locator interface {
	Lookup(ip netip.Addr) (geoip.Location, error)
}

// whereFrom is what GeoIP says of the request's client (its RemoteAddr, which trusted
// proxies and the forwarding between regions have already set to the client's): the
// country, and a position for placement. Nothing without GeoIP; a lookup that fails is
// logged and the country counts as unknown.
func (m *meetingAPI) whereFrom(r *http.Request) (string, topology.Origin) {
	if m.geo == nil {
		return "", topology.Origin{}
	}
	ip := clientaddr.Peer(r)
	loc, err := m.geo.Lookup(ip)
	if err != nil {
		m.log.WarnContext(r.Context(), "geoip lookup failed: the country is unknown", "ip", ip, "err", err)
		return "", topology.Origin{}
	}
	var o topology.Origin
	if p := loc.Position; p != nil {
		o.Location = &topology.LatLng{Lat: p.Lat, Lng: p.Lng}
	}
	return loc.Country, o
}

// meetingRoute adapts a meeting handler to the route table.
func meetingRoute(h func(m *meetingAPI, a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal)) func(*accountAPI, http.ResponseWriter, *http.Request, account.Principal) {
	return func(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
		m := a.meetings
		if m == nil || m.svc == nil {
			WriteError(w, http.StatusNotFound, meeting.CodeNotFound, "this server does not serve meetings")
			return
		}
		h(m, a, w, r, p)
	}
}

// JSON shapes (see api/openapi.yaml).

type meetingJSON struct {
	ID              string     `json:"id"`
	DisplayID       string     `json:"display_id"`
	Topic           string     `json:"topic"`
	Kind            string     `json:"kind"`
	Status          string     `json:"status"`
	HostUserID      string     `json:"host_user_id"`
	StartsAt        *time.Time `json:"starts_at,omitempty"`
	NextStart       *time.Time `json:"next_start,omitempty"`
	DurationMinutes int        `json:"duration_minutes"`
	TimeZone        string     `json:"time_zone"`
	Recurrence      string     `json:"recurrence,omitempty"`
	Passcode        string     `json:"passcode,omitempty"`
	JoinURL         string     `json:"join_url"`
	WaitingRoom     bool       `json:"waiting_room"`
	JoinBeforeHost  bool       `json:"join_before_host"`
	RequireSignIn   bool       `json:"require_sign_in"`
	Locked          bool       `json:"locked"`
	Region          string     `json:"region"`
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	EndsAt          *time.Time `json:"ends_at,omitempty"`
	EndedAt         *time.Time `json:"ended_at,omitempty"`
	// AllowedRegions are the regions that may carry the meeting, taken from its account
	// when it went live.
	AllowedRegions []string `json:"allowed_regions"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// toMeeting describes a meeting; base is the base URL of its join link (linkBase).
func (m *meetingAPI) toMeeting(x meeting.Meeting, now time.Time, base string) meetingJSON {
	j := meetingJSON{
		ID: x.ID, DisplayID: meeting.FormatID(x.ID), Topic: x.Topic, Kind: x.Kind, Status: x.Status,
		HostUserID: x.HostUserID, StartsAt: timePtr(x.StartsAt), DurationMinutes: x.DurationMinutes,
		TimeZone: x.TimeZone, Recurrence: x.Recurrence, Passcode: x.Passcode, JoinURL: base + "/j/" + x.JoinToken,
		WaitingRoom: x.WaitingRoom, JoinBeforeHost: x.JoinBeforeHost, RequireSignIn: x.RequireSignIn,
		Locked: x.Locked, Region: x.Region, CreatedAt: x.CreatedAt,
		StartedAt: timePtr(x.StartedAt), EndsAt: timePtr(meeting.Deadline(x)), EndedAt: timePtr(x.EndedAt),
		AllowedRegions: meeting.AllowedRegions(x),
	}
	if x.Recurrence != "" {
		j.NextStart = timePtr(meeting.NextStart(x, now))
	}
	return j
}

type ticketJSON struct {
	Token     string     `json:"token"`
	WSPath    string     `json:"ws_path"`
	Room      string     `json:"room"`
	Identity  string     `json:"identity"`
	Host      bool       `json:"host"`
	Waiting   bool       `json:"waiting"`
	ExpiresAt time.Time  `json:"expires_at"`
	EndsAt    *time.Time `json:"ends_at,omitempty"`
	// SignalURL is the signalling WebSocket of the node carrying the meeting, which may
	// be another than the one that answered; NodeID and Region name that node.
	SignalURL string `json:"signal_url,omitempty"`
	NodeID    string `json:"node_id,omitempty"`
	Region    string `json:"region,omitempty"`
}

func toTicket(t meeting.Ticket) ticketJSON {
	return ticketJSON{
		Token: t.Token, WSPath: SignalPath, Room: t.Room, Identity: t.Identity, Host: t.Host,
		Waiting: t.Waiting, ExpiresAt: t.ExpiresAt, EndsAt: timePtr(meeting.Deadline(t.Meeting)),
		SignalURL: t.Node.SignalURL, NodeID: t.Node.ID, Region: t.Node.Region,
	}
}

// Handlers.

func (m *meetingAPI) create(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Topic           string `json:"topic"`
		Kind            string `json:"kind"`
		StartsAt        string `json:"starts_at"`
		DurationMinutes int    `json:"duration_minutes"`
		TimeZone        string `json:"time_zone"`
		Recurrence      string `json:"recurrence"`
		Passcode        *bool  `json:"passcode"`
		WaitingRoom     *bool  `json:"waiting_room"`
		JoinBeforeHost  bool   `json:"join_before_host"`
		RequireSignIn   bool   `json:"require_sign_in"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	var startsAt time.Time
	if in.StartsAt != "" {
		var err error
		if startsAt, err = time.Parse(time.RFC3339, in.StartsAt); err != nil {
			m.fail(a, w, r, errBadStartsAt)
			return
		}
	}
	x, err := m.svc.Schedule(r.Context(), p, meeting.ScheduleInput{
		Topic: in.Topic, Kind: in.Kind, StartsAt: startsAt, DurationMinutes: in.DurationMinutes,
		TimeZone: in.TimeZone, Recurrence: in.Recurrence, Passcode: in.Passcode, WaitingRoom: in.WaitingRoom,
		JoinBeforeHost: in.JoinBeforeHost, RequireSignIn: in.RequireSignIn,
	})
	if err != nil {
		m.fail(a, w, r, err)
		return
	}
	w.Header().Set("Location", "/api/meetings/"+x.ID)
	writeJSON(w, http.StatusCreated, m.toMeeting(x, time.Now(), m.linkBase(r.Context(), p.Account)))
}

func (m *meetingAPI) list(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	limit := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxListLimit {
			m.fail(a, w, r, &meeting.Error{Code: meeting.CodeInvalidInput,
				Message: "limit must be a number from 1 to " + strconv.Itoa(store.MaxListLimit)})
			return
		}
		limit = n
	}
	xs, err := m.svc.List(r.Context(), p, limit)
	if err != nil {
		m.fail(a, w, r, err)
		return
	}
	now, base := time.Now(), m.linkBase(r.Context(), p.Account)
	out := struct {
		Meetings []meetingJSON `json:"meetings"`
	}{Meetings: make([]meetingJSON, 0, len(xs))}
	for _, x := range xs {
		out.Meetings = append(out.Meetings, m.toMeeting(x, now, base))
	}
	writeJSON(w, http.StatusOK, out)
}

func (m *meetingAPI) get(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	x, err := m.svc.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		m.fail(a, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m.toMeeting(x, time.Now(), m.linkBase(r.Context(), p.Account)))
}

// update changes a meeting that has not taken place: each field given replaces the
// meeting's, each one left out stays; "starts_at": "" makes it an instant meeting.
func (m *meetingAPI) update(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Topic           *string `json:"topic"`
		StartsAt        *string `json:"starts_at"`
		DurationMinutes *int    `json:"duration_minutes"`
		TimeZone        *string `json:"time_zone"`
		Recurrence      *string `json:"recurrence"`
		Passcode        *bool   `json:"passcode"`
		WaitingRoom     *bool   `json:"waiting_room"`
		JoinBeforeHost  *bool   `json:"join_before_host"`
		RequireSignIn   *bool   `json:"require_sign_in"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	up := meeting.UpdateInput{
		Topic: in.Topic, DurationMinutes: in.DurationMinutes, TimeZone: in.TimeZone, Recurrence: in.Recurrence,
		Passcode: in.Passcode, WaitingRoom: in.WaitingRoom, JoinBeforeHost: in.JoinBeforeHost, RequireSignIn: in.RequireSignIn,
	}
	if in.StartsAt != nil {
		up.StartsAt = new(time.Time)
		if *in.StartsAt != "" {
			t, err := time.Parse(time.RFC3339, *in.StartsAt)
			if err != nil {
				m.fail(a, w, r, errBadStartsAt)
				return
			}
			*up.StartsAt = t
		}
	}
	x, err := m.svc.Update(r.Context(), p, r.PathValue("id"), up)
	if err != nil {
		m.fail(a, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m.toMeeting(x, time.Now(), m.linkBase(r.Context(), p.Account)))
}

var errBadStartsAt = &meeting.Error{Code: meeting.CodeInvalidInput,
	Message: "starts_at must be an RFC 3339 time with an offset, e.g. 2030-03-18T09:00:00+01:00"}

func (m *meetingAPI) cancel(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	x, err := m.svc.Cancel(r.Context(), p, r.PathValue("id"))
	if err != nil {
		m.fail(a, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m.toMeeting(x, time.Now(), m.linkBase(r.Context(), p.Account)))
}

func (m *meetingAPI) start(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	country, origin := m.whereFrom(r)
	t, err := m.svc.StartFrom(r.Context(), p, r.PathValue("id"), country, origin)
	if err != nil {
		m.fail(a, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ticketJSON
		Meeting meetingJSON `json:"meeting"`
	}{toTicket(t), m.toMeeting(t.Meeting, time.Now(), m.linkBase(r.Context(), p.Account))})
}

func (m *meetingAPI) end(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	x, err := m.svc.End(r.Context(), p, r.PathValue("id"))
	if err != nil {
		m.fail(a, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m.toMeeting(x, time.Now(), m.linkBase(r.Context(), p.Account)))
}

// join admits anyone holding a meeting's id and passcode, or its join link, as a guest
// with a display name; a signed-in user (by session cookie) joins as themselves. It
// creates no session, so it needs no CSRF token; cross-origin browser requests are still
// refused in front of it.
func (m *meetingAPI) join(a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	var in struct {
		MeetingID   string `json:"meeting_id"`
		LinkToken   string `json:"link_token"`
		Passcode    string `json:"passcode"`
		DisplayName string `json:"display_name"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	country, origin := m.whereFrom(r)
	t, err := m.svc.Join(r.Context(), meeting.JoinInput{
		MeetingID: in.MeetingID, LinkToken: linkToken(in.LinkToken), Passcode: in.Passcode,
		DisplayName: in.DisplayName, Principal: a.signedInUser(r), ClientIP: clientIP(r),
		GuestKey: a.guestKey(w, r), Country: country, Origin: origin,
	})
	if err != nil {
		m.fail(a, w, r, err)
		return
	}
	// A participant learns which meeting they joined, not its secrets.
	type joinedMeeting struct {
		ID    string `json:"id"`
		Topic string `json:"topic"`
	}
	writeJSON(w, http.StatusOK, struct {
		ticketJSON
		Meeting joinedMeeting `json:"meeting"`
	}{toTicket(t), joinedMeeting{t.Meeting.ID, t.Meeting.Topic}})
}

// linkToken is the token of a join link as given: the token, or the whole link pasted.
func linkToken(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "/j/"); i >= 0 {
		s = s[i+len("/j/"):]
	}
	return s
}

// lookup tells the holder of a join link, or of a meeting id and passcode, which meeting
// it is for and whether it can be joined, before they join. Like join it is public and
// rate limited: a wrong credential tells nothing and counts as a failed guess.
func (m *meetingAPI) lookup(a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	var in struct {
		MeetingID string `json:"meeting_id"`
		LinkToken string `json:"link_token"`
		Passcode  string `json:"passcode"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	info, err := m.svc.Lookup(r.Context(), meeting.LookupInput{
		MeetingID: in.MeetingID, LinkToken: linkToken(in.LinkToken), Passcode: in.Passcode, ClientIP: clientIP(r),
	})
	if err != nil {
		m.fail(a, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Topic    string     `json:"topic"`
		HostName string     `json:"host_name"`
		Status   string     `json:"status"`
		StartsAt *time.Time `json:"starts_at,omitempty"`
	}{info.Topic, info.HostName, info.Status, timePtr(info.StartsAt)})
}

// GuestCookie keeps a guest's browser key: a random secret from which the meeting layer
// derives the guest's identity, so that a guest removed from a meeting stays removed.
const GuestCookie = "meridian_guest"

// guestKey returns the browser's guest key, giving it one if it has none (or a malformed
// one).
func (a *accountAPI) guestKey(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(GuestCookie); err == nil && len(c.Value) == 26 && strings.Trim(c.Value, base32Alphabet) == "" {
		return c.Value
	}
	key := rand.Text()
	http.SetCookie(w, &http.Cookie{
		Name: GuestCookie, Value: key, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteLaxMode,
	})
	return key
}

// base32Alphabet is the alphabet of rand.Text.
const base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// signedInUser is the user of the request's session cookie, or nil when there is none or
// it is not valid: a public route then serves the request as a guest's.
func (a *accountAPI) signedInUser(r *http.Request) *account.Principal {
	c, err := r.Cookie(SessionCookie)
	if err != nil || a.svc == nil {
		return nil
	}
	p, err := a.svc.Authenticate(r.Context(), c.Value)
	if err != nil {
		return nil
	}
	return &p
}

// meetingStatusOf maps the meeting package's error codes onto HTTP statuses.
var meetingStatusOf = map[string]int{
	// Changing a meeting, and a meeting called off (apart, so that gofmt leaves the
	// alignment below, and other branches' edits to it, alone).
	meeting.CodeMeetingCancelled: http.StatusGone,
	meeting.CodeMeetingLive:      http.StatusConflict,

	meeting.CodeInvalidInput:    http.StatusBadRequest,
	meeting.CodeNotFound:        http.StatusNotFound,
	meeting.CodeForbidden:       http.StatusForbidden,
	meeting.CodePlanCannotHost:  http.StatusForbidden,
	meeting.CodeAccountDisabled: http.StatusForbidden,
	meeting.CodeMeetingLocked:   http.StatusForbidden,
	meeting.CodeWrongPasscode:   http.StatusForbidden,
	meeting.CodeRemoved:         http.StatusForbidden,
	meeting.CodeMeetingFull:     http.StatusForbidden,
	meeting.CodeSignInRequired:  http.StatusUnauthorized,
	meeting.CodeWaitingForHost:  http.StatusConflict,
	meeting.CodeMeetingEnded:    http.StatusGone,
	meeting.CodeRateLimited:     http.StatusTooManyRequests,

	meeting.CodeInvisibleCharacters: http.StatusBadRequest,

	// Entry by country (apart, as above).
	account.CodeEntryCountryBlocked: http.StatusForbidden,
	account.CodeEntryCountryUnknown: http.StatusForbidden,

	meeting.CodeNoAllowedCapacity:       http.StatusServiceUnavailable,
	meeting.CodeControlPlaneUnavailable: http.StatusServiceUnavailable,
}

// fail writes err as a JSON error: a meeting refusal with its status, an account refusal
// as the account routes would, and anything else as a logged 500 without details.
func (m *meetingAPI) fail(a *accountAPI, w http.ResponseWriter, r *http.Request, err error) {
	e := (*meeting.Error)(nil)
	if !errors.As(err, &e) {
		if ae := (*account.Error)(nil); errors.As(err, &ae) {
			a.fail(w, r, err)
			return
		}
		m.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		WriteError(w, http.StatusInternalServerError, meeting.CodeInternal, "something went wrong on the server")
		return
	}
	if e.Decision != nil {
		writeJSON(w, http.StatusForbidden, toPolicyRefusal(e.Code, e.Message, e.Decision))
		return
	}
	status, ok := meetingStatusOf[e.Code]
	if !ok {
		status = http.StatusForbidden // a policy decision code this table does not know yet
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meridian"`)
	}
	if e.Code == meeting.CodeNoAllowedCapacity {
		// Which allowed regions were tried and why: the refusal names no other region.
		writeJSON(w, status, struct {
			Error
			Tried []topology.RegionAttempt `json:"tried"`
		}{Error{Code: e.Code, Message: e.Message}, e.Tried})
		return
	}
	WriteError(w, status, e.Code, e.Message)
}
