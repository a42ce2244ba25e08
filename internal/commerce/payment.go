package commerce

import "context"

// PaymentProvider charges a payment method: the boundary to a payment processor.
type PaymentProvider interface {
	// Charge charges req.AmountMinor of req.Currency to req.PaymentToken. A declined charge
	// is a ChargeResult with Declined set and a nil error; an error means the charge could
	// not be made (or its outcome is unknown), and a retry with the same IdempotencyKey
	// must not charge twice.
	Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error)
}

// ChargeRequest is one charge.
type ChargeRequest struct {
	// IdempotencyKey is the order's id: the provider charges it at most once.
	IdempotencyKey string
	AccountID      string
	AmountMinor    int64
	Currency       string
	// PaymentToken is the payment method as the provider's client-side form tokenized
	// it; card numbers never reach Meridian.
	PaymentToken string
	Description  string
}

// ChargeResult is how a charge ended.
type ChargeResult struct {
	ChargeID string
	Declined bool
	// DeclineCode is the provider's reason for a decline.
	DeclineCode string
}
