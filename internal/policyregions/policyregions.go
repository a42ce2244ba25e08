// Package policyregions carries the policy dry run to every region over the bus, so that
// each region's part is computed by one of its own nodes over its own store: subject
// meridian.policy.dryrun.<region>, queue group of that region's nodes.
//
// The request carries the policy document to try and the moment to decide at; the answer
// carries what the region computed (policyadmin.RegionResult): counts, opaque ids
// (accounts, subscriptions, meetings, decision log entries), decision codes and rules.
// No name, address or fact about a person leaves the region. A region that does not
// answer within Timeout is an error for the caller to report, never a region assumed
// unaffected.
package policyregions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/policyadmin"
)

// Version is the format of requests and replies; either side refuses others.
const Version = 1

// DefaultTimeout is how long a region has to answer: a dry run reads the region's whole
// store, which takes longer than the bus's control-plane requests.
const DefaultTimeout = 15 * time.Second

// Answerer computes this region's part of a dry run (*policyadmin.Service is one).
type Answerer interface {
	RegionDryRun(ctx context.Context, next *policy.Policy, at time.Time) (policyadmin.RegionResult, error)
}

type request struct {
	V        int    `json:"v"`
	Document string `json:"document"`
	At       int64  `json:"at"` // Unix milliseconds
}

// reply is a region's answer: Code is "" with Result, else why it could not answer.
type reply struct {
	V       int                       `json:"v"`
	Code    string                    `json:"code,omitempty"`
	Message string                    `json:"message,omitempty"`
	Result  *policyadmin.RegionResult `json:"result,omitempty"`
}

// Reply codes.
const (
	codeInvalid  = "invalid_request"
	codeInternal = "internal"
)

func subject(region string) (string, error) {
	return bus.Subject("meridian", "policy", "dryrun", region)
}

func queue(region string) string { return "meridian-policy-dryrun-" + region }

// Service answers dry runs for this node's region.
type Service struct {
	b       *bus.Bus
	a       Answerer
	log     *slog.Logger
	timeout time.Duration
	sub     *nats.Subscription
}

// Serve answers dry runs for b's region with a until Close.
func Serve(b *bus.Bus, a Answerer, log *slog.Logger) (*Service, error) {
	subj, err := subject(b.Region())
	if err != nil {
		return nil, fmt.Errorf("policyregions: %w", err)
	}
	s := &Service{b: b, a: a, log: log.With("component", "policyregions", "region", b.Region()), timeout: DefaultTimeout}
	s.sub, err = b.Conn().QueueSubscribe(subj, queue(b.Region()), s.handle)
	if err != nil {
		return nil, fmt.Errorf("policyregions: subscribe %s: %w", subj, err)
	}
	return s, nil
}

// Close stops answering; dry runs in flight are answered first.
func (s *Service) Close() error {
	if s == nil {
		return nil
	}
	if err := s.sub.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("policyregions: %w", err)
	}
	return nil
}

func (s *Service) handle(m *nats.Msg) {
	b, err := json.Marshal(s.answer(m.Data))
	if err == nil && len(b) > int(s.b.Conn().MaxPayload()) {
		b, err = json.Marshal(reply{V: Version, Code: codeInternal, Message: "the answer is too large for the bus"})
	}
	if err == nil {
		err = m.Respond(b)
	}
	if err != nil {
		s.log.Warn("policy dry run: reply not sent", "error", err)
	}
}

func (s *Service) answer(data []byte) reply {
	var req request
	if json.Unmarshal(data, &req) != nil || req.V != Version {
		s.log.Warn("policy dry run: malformed request", "bytes", len(data))
		return reply{V: Version, Code: codeInvalid, Message: "malformed request"}
	}
	next, err := policy.Load("policy.yaml", []byte(req.Document))
	if err != nil {
		// The asking node validated it: a build that reads policies differently.
		return reply{V: Version, Code: codeInvalid, Message: "the policy does not load here: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	res, err := s.a.RegionDryRun(ctx, next, time.UnixMilli(req.At).UTC())
	if err != nil {
		s.log.Error("policy dry run failed", "error", err)
		return reply{V: Version, Code: codeInternal, Message: "the region's dry run failed"}
	}
	return reply{V: Version, Result: &res}
}

// Client asks other regions (a policyadmin.Regions).
type Client struct {
	b *bus.Bus
	// Timeout bounds each region's answer; DefaultTimeout if zero.
	Timeout time.Duration
}

// NewClient asks over b.
func NewClient(b *bus.Bus) *Client { return &Client{b: b} }

// DryRun asks a node of region for its part of the dry run of document at at.
func (c *Client) DryRun(ctx context.Context, region string, document []byte, at time.Time) (policyadmin.RegionResult, error) {
	subj, err := subject(region)
	if err != nil {
		return policyadmin.RegionResult{}, fmt.Errorf("region %q: %w", region, err)
	}
	data, err := json.Marshal(request{V: Version, Document: string(document), At: at.UnixMilli()})
	if err != nil {
		return policyadmin.RegionResult{}, err
	}
	if limit := c.b.Conn().MaxPayload(); int64(len(data)) > limit {
		return policyadmin.RegionResult{}, fmt.Errorf("the policy document is too large to send to other regions (%d bytes, the bus carries %d)", len(data), limit)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := c.b.Conn().RequestWithContext(ctx, subj, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return policyadmin.RegionResult{}, errors.New("no node of the region is reachable")
	case errors.Is(err, context.DeadlineExceeded):
		return policyadmin.RegionResult{}, fmt.Errorf("no answer within %s", timeout)
	case err != nil:
		return policyadmin.RegionResult{}, fmt.Errorf("asking the region: %w", err)
	}
	var rep reply
	if json.Unmarshal(m.Data, &rep) != nil || rep.V != Version {
		return policyadmin.RegionResult{}, errors.New("malformed answer")
	}
	if rep.Code != "" || rep.Result == nil {
		return policyadmin.RegionResult{}, fmt.Errorf("the region could not answer (%s): %s", rep.Code, rep.Message)
	}
	return *rep.Result, nil
}
