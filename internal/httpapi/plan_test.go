package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/store"
)

func TestUpdateAndCancelOverHTTP(t *testing.T) {
	f := newMeetingsAPI(t, meeting.Limits{})
	s := f.signUp(t)
	starts := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	m := f.schedule(t, s, fmt.Sprintf(`{"topic":"Budget","starts_at":%q}`, starts.Format(time.RFC3339)))
	path := "/api/meetings/" + m.ID

	if r := f.call(t, "PATCH", path, `{"topic":"x"}`, s.auth(false)...); r.status != http.StatusForbidden || r.code(t) != "csrf_failed" {
		t.Fatalf("PATCH without CSRF token: %d %s", r.status, r.body)
	}
	later := starts.Add(2 * time.Hour)
	body := fmt.Sprintf(`{"topic":"Budget, moved","starts_at":%q,"duration_minutes":90,"time_zone":"America/New_York",
		"recurrence":"monthly","passcode":false,"waiting_room":false,"join_before_host":true,"require_sign_in":true}`, later.Format(time.RFC3339))
	got := decodeAs[meetingOut](t, f.call(t, "PATCH", path, body, s.auth(true)...), http.StatusOK)
	if got.Topic != "Budget, moved" || got.StartsAt == nil || !got.StartsAt.Equal(later) || got.TimeZone != "America/New_York" ||
		got.Recurrence != "monthly" || got.Passcode != "" || got.WaitingRoom || !got.JoinBeforeHost || !got.RequireSignIn ||
		got.JoinURL != m.JoinURL || got.Status != "scheduled" {
		t.Fatalf("after PATCH: %+v", got)
	}
	if again := decodeAs[meetingOut](t, f.call(t, "GET", path, "", s.auth(false)...), http.StatusOK); again.Topic != got.Topic ||
		!again.StartsAt.Equal(*got.StartsAt) || again.Recurrence != got.Recurrence || again.Passcode != "" {
		t.Fatalf("GET after PATCH: %+v, want %+v", again, got)
	}
	// Each refusal has its stable code and changes nothing, not even the valid fields
	// sent beside the bad one.
	for name, c := range map[string]struct {
		body string
		code string
	}{
		"bad time":         {`{"topic":"Renamed","starts_at":"next tuesday"}`, "invalid_input"},
		"time, no offset":  {`{"topic":"Renamed","starts_at":"2030-03-18T09:00:00"}`, "invalid_input"},
		"past":             {`{"topic":"Renamed","starts_at":"2001-01-01T09:00:00Z"}`, "invalid_input"},
		"too far ahead":    {`{"topic":"Renamed","starts_at":"2099-01-01T09:00:00Z"}`, "invalid_input"},
		"zero duration":    {`{"topic":"Renamed","duration_minutes":0}`, "invalid_input"},
		"empty topic":      {`{"topic":""}`, "invalid_input"},
		"control in topic": {`{"topic":"Bud\u0007get"}`, "invalid_input"},
		"bidi in topic":    {`{"topic":"Budget \u202eweiver","duration_minutes":30}`, "invisible_characters"},
		"zero width":       {`{"topic":"Bud\u200bget"}`, "invisible_characters"},
		"time zone":        {`{"topic":"Renamed","time_zone":"Atlantis/Capital"}`, "invalid_input"},
		"recurrence":       {`{"topic":"Renamed","recurrence":"hourly"}`, "invalid_input"},
		"unknown field":    {`{"topic":"Renamed","pin":"1"}`, "unknown_field"},
	} {
		if r := f.call(t, "PATCH", path, c.body, s.auth(true)...); r.status != http.StatusBadRequest || r.code(t) != c.code {
			t.Errorf("PATCH with %s: %d %s", name, r.status, r.body)
		}
	}
	if after := decodeAs[meetingOut](t, f.call(t, "GET", path, "", s.auth(false)...), http.StatusOK); after.Topic != got.Topic ||
		!after.StartsAt.Equal(*got.StartsAt) || after.Duration != 90 || after.TimeZone != got.TimeZone || after.Recurrence != got.Recurrence {
		t.Fatalf("refused PATCHes changed the meeting: %+v, was %+v", after, got)
	}

	// Another account cannot tell the meeting exists; a read-only key may not change it.
	bob := f.signUpAs(t, "bob@example.com")
	for _, c := range []struct{ method, path, body string }{{"PATCH", path, `{"topic":"mine"}`}, {"POST", path + "/cancel", ""}} {
		if r := f.call(t, c.method, c.path, c.body, bob.auth(true)...); r.status != http.StatusNotFound || r.code(t) != "not_found" {
			t.Errorf("bob %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	_, reader := f.createKey(t, s, "meetings:read")
	if r := f.call(t, "POST", path+"/cancel", "", "Authorization", "Bearer "+reader); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
		t.Fatalf("cancel by a read-only key: %d %s", r.status, r.body)
	}
	_, writer := f.createKey(t, s, "meetings:write")
	if got := decodeAs[meetingOut](t, f.call(t, "PATCH", path, `{"topic":"Budget (by key)"}`, "Authorization", "Bearer "+writer), http.StatusOK); got.Topic != "Budget (by key)" {
		t.Fatalf("PATCH by a meetings:write key: %+v", got)
	}

	cancelled := decodeAs[meetingOut](t, f.call(t, "POST", path+"/cancel", "", s.auth(true)...), http.StatusOK)
	if cancelled.Status != "cancelled" || cancelled.EndedAt == nil {
		t.Fatalf("cancelled %+v", cancelled)
	}
	for name, r := range map[string]reply{
		"join":  f.call(t, "POST", "/api/join", joinBody("link_token", m.JoinURL, "display_name", "Grace")),
		"start": f.call(t, "POST", path+"/start", "", s.auth(true)...),
		"PATCH": f.call(t, "PATCH", path, `{"topic":"x"}`, s.auth(true)...),
	} {
		if r.status != http.StatusGone || r.code(t) != "meeting_cancelled" {
			t.Errorf("%s a cancelled meeting: %d %s", name, r.status, r.body)
		}
	}

	live := f.schedule(t, s, `{"topic":"Standup"}`)
	f.startMeeting(t, s, live.ID)
	for _, c := range []struct{ method, path, body string }{{"PATCH", "/api/meetings/" + live.ID, `{"topic":"x"}`}, {"POST", "/api/meetings/" + live.ID + "/cancel", ""}} {
		if r := f.call(t, c.method, c.path, c.body, s.auth(true)...); r.status != http.StatusConflict || r.code(t) != "meeting_live" {
			t.Errorf("%s %s of a live meeting: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	// Once it has ended it is over: 410 meeting_ended, and it stays as it was.
	decodeAs[meetingOut](t, f.call(t, "POST", "/api/meetings/"+live.ID+"/end", "", s.auth(true)...), http.StatusOK)
	for _, c := range []struct{ method, path, body string }{{"PATCH", "/api/meetings/" + live.ID, `{"topic":"x"}`}, {"POST", "/api/meetings/" + live.ID + "/cancel", ""}} {
		if r := f.call(t, c.method, c.path, c.body, s.auth(true)...); r.status != http.StatusGone || r.code(t) != "meeting_ended" {
			t.Errorf("%s %s of an ended meeting: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if after := decodeAs[meetingOut](t, f.call(t, "GET", "/api/meetings/"+live.ID, "", s.auth(false)...), http.StatusOK); after.Topic != "Standup" || after.Status != "ended" {
		t.Fatalf("the ended meeting after refused changes: %+v", after)
	}

	es, err := f.st.ListAudit(t.Context(), store.AuditQuery{Subject: m.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		if e.Action == "meeting.update" || e.Action == "meeting.cancel" {
			actions = append(actions, e.Action+":"+e.Outcome)
		}
	}
	for _, want := range []string{"meeting.update:ok", "meeting.cancel:ok", "meeting.update:meeting_cancelled", "meeting.update:invalid_input", "meeting.update:invisible_characters"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit %v lacks %s", actions, want)
		}
	}
}

func TestLookupOverHTTP(t *testing.T) {
	f := newMeetingsAPI(t, meeting.Limits{JoinPerIP: meeting.RateLimit{Every: time.Hour, Burst: 4}, JoinPerMeeting: meeting.RateLimit{Every: time.Hour, Burst: 100}})
	s := f.signUp(t)
	starts := time.Now().Add(time.Hour).Truncate(time.Second)
	m := f.schedule(t, s, fmt.Sprintf(`{"topic":"Design review","starts_at":%q}`, starts.Format(time.RFC3339)))
	token := strings.TrimPrefix(m.JoinURL, "https://meet.example/j/")
	type info struct {
		Topic    string     `json:"topic"`
		HostName string     `json:"host_name"`
		Status   string     `json:"status"`
		StartsAt *time.Time `json:"starts_at"`
	}
	r := f.call(t, "POST", "/api/join/lookup", joinBody("link_token", token))
	got := decodeAs[info](t, r, http.StatusOK)
	if got.Topic != "Design review" || got.HostName != "Ada" || got.Status != "scheduled" || got.StartsAt == nil || !got.StartsAt.Equal(starts) {
		t.Fatalf("lookup %+v", got)
	}
	if strings.Contains(string(r.body), m.ID) || strings.Contains(string(r.body), m.Passcode) {
		t.Fatalf("the lookup tells more than it should: %s", r.body)
	}
	if got := decodeAs[info](t, f.call(t, "POST", "/api/join/lookup", joinBody("meeting_id", m.DisplayID, "passcode", m.Passcode)), http.StatusOK); got.Topic != "Design review" {
		t.Fatalf("lookup by id %+v", got)
	}
	for name, c := range map[string]struct {
		body   string
		status int
		code   string
	}{
		"wrong passcode": {joinBody("meeting_id", m.ID, "passcode", "guessguess"), 403, "wrong_passcode"},
		"forged link":    {joinBody("link_token", m.ID+strings.Repeat("A", 43)), 404, "not_found"},
	} {
		r := f.call(t, "POST", "/api/join/lookup", c.body)
		if r.status != c.status || r.code(t) != c.code || strings.Contains(string(r.body), "Design") {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// Two failures spent, two more; then even a join with the right passcode waits.
	for range 2 {
		f.call(t, "POST", "/api/join/lookup", joinBody("link_token", "nonsense"))
	}
	for path, body := range map[string]string{
		"/api/join/lookup": joinBody("link_token", m.ID+strings.Repeat("B", 43)),
		"/api/join":        joinBody("meeting_id", m.ID, "passcode", m.Passcode, "display_name", "Grace"),
	} {
		r := f.call(t, "POST", path, body)
		if r.status != http.StatusTooManyRequests || r.code(t) != "rate_limited" || r.header.Get("Retry-After") == "" {
			t.Errorf("%s after 4 failed lookups: %d %s", path, r.status, r.body)
		}
	}
}
