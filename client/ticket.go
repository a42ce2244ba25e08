package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// TicketRequest asks a server's API for a ticket to a meeting (POST /api/join): its id
// and passcode, or a join link's token, and the name to show.
type TicketRequest struct {
	MeetingID   string `json:"meeting_id,omitempty"`
	Passcode    string `json:"passcode,omitempty"`
	LinkToken   string `json:"link_token,omitempty"`
	DisplayName string `json:"display_name"`
}

// Ticket is the API's join answer. SignalURL names the node carrying the meeting, which
// may be another node than the one asked: connect there (see URL).
type Ticket struct {
	Token     string    `json:"token"`
	SignalURL string    `json:"signal_url"`
	WSPath    string    `json:"ws_path"`
	Room      string    `json:"room"`
	Identity  string    `json:"identity"`
	NodeID    string    `json:"node_id"`
	Region    string    `json:"region"`
	Waiting   bool      `json:"waiting"`
	ExpiresAt time.Time `json:"expires_at"`
	// base is the API the ticket came from, for URL when it names no node.
	base string
}

// URL is where to connect with the ticket: its node's signalling URL, or the answering
// server's when it names none (a server without a deployment around it).
func (t Ticket) URL() string {
	if t.SignalURL != "" {
		return t.SignalURL
	}
	return strings.TrimRight(t.base, "/") + t.WSPath
}

// APIError is a refusal from the API: its stable code, message and, for
// no_allowed_capacity, the regions placement tried and why.
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Tried   []struct {
		Region string `json:"region"`
		Reason string `json:"reason"`
	} `json:"tried"`
}

func (e *APIError) Error() string { return fmt.Sprintf("api: %d %s: %s", e.Status, e.Code, e.Message) }

// RequestTicket asks the API at base (http://host:port) for a ticket to a meeting.
func RequestTicket(ctx context.Context, base string, req TicketRequest) (Ticket, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return Ticket{}, err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/join", bytes.NewReader(body))
	if err != nil {
		return Ticket{}, err
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return Ticket{}, fmt.Errorf("join api: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Ticket{}, fmt.Errorf("join api: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			e.Code, e.Message = "http_error", strings.TrimSpace(string(b))
		}
		return Ticket{}, e
	}
	var t Ticket
	if err := json.Unmarshal(b, &t); err != nil {
		return Ticket{}, fmt.Errorf("join api: %w", err)
	}
	t.base = base
	return t, nil
}

// JoinMeeting gets a ticket from the API at base and joins the meeting on the node the
// ticket names; opts.URL and opts.Token are set from the ticket.
func JoinMeeting(ctx context.Context, base string, req TicketRequest, opts Options) (*Client, Ticket, error) {
	t, err := RequestTicket(ctx, base, req)
	if err != nil {
		return nil, Ticket{}, err
	}
	opts.URL, opts.Token = t.URL(), t.Token
	c, err := Join(ctx, opts)
	return c, t, err
}
