package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/server"
)

// apiCall makes a JSON request to the server and decodes a JSON answer into out (if not
// nil), failing the test on another status than want.
func apiCall(t *testing.T, srv *server.Server, method, path, body string, want int, out any, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
	return resp
}

// signUp creates an individual account and returns the headers that authenticate its
// owner's requests: the session cookie and the CSRF token.
func signUp(t *testing.T, srv *server.Server, email, name string) []string {
	t.Helper()
	var signedUp struct {
		CSRFToken string `json:"csrf_token"`
	}
	body, _ := json.Marshal(map[string]string{
		"account_type": "individual", "email": email, "display_name": name, "password": "correct horse battery",
	})
	resp := apiCall(t, srv, "POST", "/api/signup", string(body), http.StatusCreated, &signedUp)
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "meridian_session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	return []string{"Cookie", cookie, "X-CSRF-Token", signedUp.CSRFToken}
}

// A host schedules and starts a meeting over the REST API, a guest joins it with the
// passcode, both enter the meeting's SFU room with their tickets, and ending the meeting
// closes the room for both.
func TestMeetingFromScheduleToEnd(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	auth := signUp(t, srv, "ada@example.com", "Ada")
	var m struct {
		ID       string `json:"id"`
		Passcode string `json:"passcode"`
		JoinURL  string `json:"join_url"`
	}
	apiCall(t, srv, "POST", "/api/meetings", `{"topic":"Demo","waiting_room":false}`, http.StatusCreated, &m, auth...)
	if !strings.HasPrefix(m.JoinURL, "http://"+srv.Addr()+"/j/") {
		t.Fatalf("join url %q", m.JoinURL)
	}
	type ticket struct {
		Token  string `json:"token"`
		WSPath string `json:"ws_path"`
		Room   string `json:"room"`
	}
	var host, guest ticket
	apiCall(t, srv, "POST", "/api/meetings/"+m.ID+"/start", "", http.StatusOK, &host, auth...)
	apiCall(t, srv, "POST", "/api/join",
		`{"meeting_id":"`+m.ID+`","passcode":"`+m.Passcode+`","display_name":"Grace"}`, http.StatusOK, &guest)
	if host.Room != "m-"+m.ID || guest.Room != host.Room || host.WSPath != "/ws" {
		t.Fatalf("tickets %+v %+v", host, guest)
	}

	hc, err := client.Join(ctx, client.Options{URL: srv.URL(), Token: host.Token, LoopbackOnly: true})
	if err != nil {
		t.Fatalf("host enters the room: %v", err)
	}
	defer hc.Close()
	gc, err := client.Join(ctx, client.Options{URL: srv.URL(), Token: guest.Token, LoopbackOnly: true})
	if err != nil {
		t.Fatalf("guest enters the room: %v", err)
	}
	defer gc.Close()
	room, ok := srv.SFU.LookupRoom(host.Room)
	if !ok || len(room.Participants()) != 2 {
		t.Fatalf("room %s: %v", host.Room, ok)
	}

	apiCall(t, srv, "POST", "/api/meetings/"+m.ID+"/end", "", http.StatusOK, nil, auth...)
	for name, c := range map[string]*client.Client{"host": hc, "guest": gc} {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatalf("%s still in the room of an ended meeting", name)
		}
	}
	if _, ok := srv.SFU.LookupRoom(host.Room); ok {
		t.Fatal("the room outlives the meeting")
	}
	apiCall(t, srv, "POST", "/api/join",
		`{"meeting_id":"`+m.ID+`","passcode":"`+m.Passcode+`","display_name":"Grace"}`, http.StatusGone, nil)
}
