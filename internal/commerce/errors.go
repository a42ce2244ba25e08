package commerce

import (
	"errors"

	"github.com/meridian-video/meridian/internal/policy"
)

// Error is a refusal the caller can act on: a stable Code for programs and a Message for
// people. A refusal by the jurisdiction policy carries its Decision (rule, jurisdiction,
// effective date, alternatives with partner contacts) and the decision's code. Two Errors
// match under errors.Is when their codes are equal.
type Error struct {
	Code    string
	Message string
	// Decision is set for a refusal by the jurisdiction policy.
	Decision *policy.Decision
}

func (e *Error) Error() string { return "commerce: " + e.Message }

// Is matches another *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Stable error codes (a policy refusal has its rule's reason code instead).
const (
	CodeInvalidInput        = "invalid_input"
	CodeNotFound            = "not_found"
	CodeForbidden           = "forbidden"
	CodeNoPrice             = "no_price"
	CodeSubscriptionExists  = "subscription_exists"
	CodeNoSubscription      = "no_subscription"
	CodeNotAnUpgrade        = "not_an_upgrade"
	CodeIdempotencyMismatch = "idempotency_key_reused"
	CodeInProgress          = "checkout_in_progress"
	CodeRenewalNotDue       = "renewal_not_due"
	CodePaymentDeclined     = "payment_declined"
	CodePaymentFailed       = "payment_failed"
	CodePaymentsUnavailable = "payments_unavailable"
	CodeInternal            = "internal"
)

// Sentinel refusals; see Error.
var (
	ErrInvalidInput = &Error{Code: CodeInvalidInput, Message: "the request is not valid"}
	// ErrNotFound is the one answer to an unknown id and to an id of another partner's
	// customer, so that a partner learns nothing of accounts that are not its own.
	ErrNotFound            = &Error{Code: CodeNotFound, Message: "no such account"}
	ErrForbidden           = &Error{Code: CodeForbidden, Message: "only the account's owner or an admin may buy for it"}
	ErrNoPrice             = &Error{Code: CodeNoPrice, Message: "the plan has no price in this price book"}
	ErrSubscriptionExists  = &Error{Code: CodeSubscriptionExists, Message: "the account already has a subscription; upgrade or renew it instead"}
	ErrNoSubscription      = &Error{Code: CodeNoSubscription, Message: "the account has no subscription to upgrade or renew; buy one (kind new)"}
	ErrNotAnUpgrade        = &Error{Code: CodeNotAnUpgrade, Message: "an upgrade must be to a bigger plan than the subscription's"}
	ErrIdempotencyMismatch = &Error{Code: CodeIdempotencyMismatch, Message: "this idempotency key was used for another checkout; use a new key for a new checkout"}
	ErrInProgress          = &Error{Code: CodeInProgress, Message: "a checkout with this idempotency key is under way; try again shortly"}
	ErrPaymentDeclined     = &Error{Code: CodePaymentDeclined, Message: "the payment was declined; nothing was charged. Use another payment method (and a new idempotency key)"}
	ErrPaymentFailed       = &Error{Code: CodePaymentFailed, Message: "the payment could not be made; nothing was recorded as paid. Retry with the same idempotency key"}
	ErrPaymentsUnavailable = &Error{Code: CodePaymentsUnavailable, Message: "this server takes no payments: no payment provider is configured"}
)

func invalid(msg string) *Error { return &Error{Code: CodeInvalidInput, Message: msg} }

// refused is the error of a policy refusal.
func refused(d policy.Decision) *Error {
	return &Error{Code: d.Code, Message: d.Explain(), Decision: &d}
}

// CodeOf returns the stable code of err and a message that is safe to show: the Error's
// own for a refusal, internal with a generic message for anything else.
func CodeOf(err error) (code, message string) {
	if e := (*Error)(nil); errors.As(err, &e) {
		return e.Code, e.Message
	}
	return CodeInternal, "something went wrong on the server"
}
