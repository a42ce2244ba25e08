package topology

import "errors"

// Error is a refusal the caller can act on: a stable Code for programs (the HTTP API sends
// it as is) and a Message for people. Two Errors match under errors.Is when their codes are
// equal, so a sentinel matches every refusal of its kind whatever its message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "topology: " + e.Message }

// Is matches another *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Stable error codes.
const (
	CodeInvalidInput  = "invalid_input"
	CodeUnknownRegion = "unknown_region"
	// CodeHomeRequired: an allowed set must contain the account's home region.
	CodeHomeRequired = "home_required"
	// CodeOptInRequired: an opt-in region an admin has not turned on.
	CodeOptInRequired = "opt_in_required"
	// CodePlanLocked: the account's plan has no region selection; it is locked to home.
	CodePlanLocked = "plan_locked"
	// CodePartnerRegion: a region run by a partner, asked for an account that is not
	// that partner's customer; it carries only the partner's customers' meetings.
	CodePartnerRegion = "partner_region"
	// CodeNoHomeRegion: no region of the deployment is open to the sign-up's jurisdiction.
	CodeNoHomeRegion = "no_home_region"
	// CodeNoAllowedCapacity is the code of every *Refusal.
	CodeNoAllowedCapacity = "no_allowed_capacity"
)

// Sentinels for errors.Is; see Error.
var (
	ErrInvalidInput      = &Error{Code: CodeInvalidInput, Message: "invalid input"}
	ErrUnknownRegion     = &Error{Code: CodeUnknownRegion, Message: "no such region in this deployment"}
	ErrPartnerRegion     = &Error{Code: CodePartnerRegion, Message: "the region is run by a partner for its own customers"}
	ErrNoHomeRegion      = &Error{Code: CodeNoHomeRegion, Message: "no region of this deployment is open to this jurisdiction"}
	ErrNoAllowedCapacity = &Error{Code: CodeNoAllowedCapacity, Message: "no allowed region can take the join"}
)

// CodeOf returns the stable code and a message safe to show for an error of this package,
// and ok false for any other error (whose details belong in the log).
func CodeOf(err error) (code, message string, ok bool) {
	if r := (*Refusal)(nil); errors.As(err, &r) {
		return CodeNoAllowedCapacity, r.Message(), true
	}
	if e := (*Error)(nil); errors.As(err, &e) {
		return e.Code, e.Message, true
	}
	return "", "", false
}
