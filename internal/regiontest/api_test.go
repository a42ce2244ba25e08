//go:build linux

package regiontest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// apiClient calls a node's JSON API as one person: its own cookies, its connections made
// from inside the host it is given.
type apiClient struct {
	t    *testing.T
	http *http.Client
	base string
	csrf string
}

// call sends body (JSON, or nothing when nil) and decodes the answer into out; any status
// but want fails the test.
func (c *apiClient) call(method, path string, body any, want int, out any) {
	c.t.Helper()
	if got, b := c.do(method, path, body, out); got != want {
		c.t.Fatalf("%s %s%s: %d %s", method, c.base, path, got, b)
	}
}

// callStatus is call for an answer whose status the test examines: it returns the
// status, and decodes any JSON answer into out.
func (c *apiClient) callStatus(method, path string, body any, out any) int {
	c.t.Helper()
	got, _ := c.do(method, path, body, out)
	return got
}

// do sends the request and decodes a JSON answer into out, returning the status and the
// body; a request that gets no answer, or an answer of status 2xx that does not decode,
// fails the test.
func (c *apiClient) do(method, path string, body any, out any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s%s: %v", method, c.base, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && json.Valid(b) {
		if err := json.Unmarshal(b, out); err != nil && resp.StatusCode/100 == 2 {
			c.t.Fatalf("%s %s%s: %s: %v", method, c.base, path, b, err)
		}
	} else if out != nil && resp.StatusCode/100 == 2 {
		c.t.Fatalf("%s %s%s: %d, not JSON: %s", method, c.base, path, resp.StatusCode, b)
	}
	return resp.StatusCode, b
}

// signUp creates an individual account and keeps its session for later calls.
func (c *apiClient) signUp(email, name string) {
	c.t.Helper()
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	c.call("POST", "/api/signup", map[string]string{
		"account_type": "individual", "email": email, "display_name": name, "password": "correct horse battery staple",
	}, http.StatusCreated, &out)
	c.csrf = out.CSRFToken
}

// meeting is what creating a meeting answers.
type meeting struct {
	ID       string `json:"id"`
	Passcode string `json:"passcode"`
	JoinURL  string `json:"join_url"`
}

// ticket is what starting or joining a meeting answers: the way into its SFU room.
type ticket struct {
	Token  string `json:"token"`
	WSPath string `json:"ws_path"`
	Room   string `json:"room"`
	// SignalURL, NodeID and Region name the node carrying the meeting, where the
	// participant connects.
	SignalURL string `json:"signal_url"`
	NodeID    string `json:"node_id"`
	Region    string `json:"region"`
}
