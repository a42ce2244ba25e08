package commerce

import (
	"context"
	"fmt"
	"sync"
)

// TestProvider is a test double of a payment processor, named as such: it stands in for a
// real one in tests and local development. It is deterministic: it declines DeclineToken
// (with DeclineCode "card_declined"), fails with an error for FailToken, charges any other
// token, and charges an idempotency key once, answering a repeat with the first result.
// It records every charge it made. Safe for concurrent use.
type TestProvider struct {
	DeclineToken string
	FailToken    string

	mu      sync.Mutex
	byKey   map[string]ChargeResult
	charges []ChargeRequest
}

// Charge implements PaymentProvider.
func (p *TestProvider) Charge(_ context.Context, req ChargeRequest) (ChargeResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.byKey[req.IdempotencyKey]; ok {
		return r, nil
	}
	if p.FailToken != "" && req.PaymentToken == p.FailToken {
		return ChargeResult{}, fmt.Errorf("test provider: charge %s: processor unavailable", req.IdempotencyKey)
	}
	var r ChargeResult
	if p.DeclineToken != "" && req.PaymentToken == p.DeclineToken {
		r = ChargeResult{ChargeID: fmt.Sprintf("test_decline_%d", len(p.byKey)+1), Declined: true, DeclineCode: "card_declined"}
	} else {
		p.charges = append(p.charges, req)
		r = ChargeResult{ChargeID: fmt.Sprintf("test_charge_%d", len(p.charges))}
	}
	if p.byKey == nil {
		p.byKey = map[string]ChargeResult{}
	}
	p.byKey[req.IdempotencyKey] = r
	return r, nil
}

// Charges returns the charges made (declines not included), in order.
func (p *TestProvider) Charges() []ChargeRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ChargeRequest(nil), p.charges...)
}
