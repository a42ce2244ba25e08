package meeting

import (
	"errors"
	"fmt"
	"time"

	"github.com/meridian-video/meridian/internal/topology"
)

// Error is a refusal the caller can act on: a stable Code for programs (the HTTP API sends
// it as is) and a Message for people. Compare with errors.Is against the sentinels below;
// two Errors match when their codes are equal, so a sentinel matches every refusal of its
// kind whatever its message.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when set, says how long to wait before trying again (rate_limited).
	RetryAfter time.Duration
	// Tried, for no_allowed_capacity, lists the allowed regions placement tried, nearest
	// first, and why none could take the join.
	Tried []topology.RegionAttempt
}

func (e *Error) Error() string { return "meeting: " + e.Message }

// Is matches another *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Stable error codes. CodePlanCannotHost and CodeAccountDisabled are policy.MayHost's
// decision codes, passed on as they are.
const (
	CodeInvalidInput    = "invalid_input"
	CodeNotFound        = "not_found"
	CodeForbidden       = "forbidden"
	CodePlanCannotHost  = "plan_cannot_host"
	CodeAccountDisabled = "account_disabled"
	CodeMeetingEnded    = "meeting_ended"
	CodeMeetingLocked   = "meeting_locked"
	CodeWaitingForHost  = "waiting_for_host"
	CodeSignInRequired  = "sign_in_required"
	CodeWrongPasscode   = "wrong_passcode"
	CodeRateLimited     = "rate_limited"
	CodeRemoved         = "removed"
	CodeMeetingFull     = "meeting_full"
	CodeInternal        = "internal"
)

// CodeInvisibleCharacters refuses a display name or topic with bidi controls, zero-width
// or other invisible characters, with which one person could pass for another (see
// package label).
const CodeInvisibleCharacters = "invisible_characters"

// Sentinel refusals; see Error.
var (
	ErrInvalidInput = &Error{Code: CodeInvalidInput, Message: "the request is not valid"}
	// ErrNotFound is the one answer to an unknown meeting id, a meeting of another account
	// and a join link that does not verify, so that it tells nothing about which exist.
	ErrNotFound       = &Error{Code: CodeNotFound, Message: "no such meeting"}
	ErrForbidden      = &Error{Code: CodeForbidden, Message: "you may not do this to this meeting"}
	ErrPlanCannotHost = &Error{Code: CodePlanCannotHost, Message: "the account's plan does not include hosting meetings"}
	ErrMeetingEnded   = &Error{Code: CodeMeetingEnded, Message: "the meeting has ended"}
	ErrMeetingLocked  = &Error{Code: CodeMeetingLocked, Message: "the host has locked the meeting"}
	ErrWaitingForHost = &Error{Code: CodeWaitingForHost, Message: "the meeting has not started; wait for the host to start it"}
	ErrSignInRequired = &Error{Code: CodeSignInRequired, Message: "this meeting is for signed-in users; sign in to join"}
	ErrWrongPasscode  = &Error{Code: CodeWrongPasscode, Message: "the passcode is missing or wrong"}
	ErrRateLimited    = &Error{Code: CodeRateLimited, Message: "too many failed attempts to join; wait and try again"}
	ErrRemoved        = &Error{Code: CodeRemoved, Message: "the host removed you from this meeting"}
)

// invalid returns an invalid_input refusal with its own message.
func invalid(msg string) *Error { return &Error{Code: CodeInvalidInput, Message: msg} }

// forbidden returns a forbidden refusal with its own message.
func forbidden(msg string) *Error { return &Error{Code: CodeForbidden, Message: msg} }

func meetingFull(limit int) *Error {
	return &Error{Code: CodeMeetingFull, Message: fmt.Sprintf(
		"the meeting is full: its plan allows %d participants; try again when someone leaves, or ask the host", limit)}
}

func rateLimited(wait time.Duration) *Error {
	e := *ErrRateLimited
	e.RetryAfter = max(wait, time.Second)
	return &e
}

// CodeOf returns the stable code of err and a message that is safe to show: the Error's
// own for a refusal, and internal with a generic message for anything else (whose details
// belong in the log, not in a response).
func CodeOf(err error) (code, message string) {
	if e := (*Error)(nil); errors.As(err, &e) {
		return e.Code, e.Message
	}
	return CodeInternal, "something went wrong on the server"
}

// Refusals of changing a meeting, and of joining one that was called off.
const (
	CodeMeetingCancelled = "meeting_cancelled"
	CodeMeetingLive      = "meeting_live"
)

var (
	ErrMeetingCancelled = &Error{Code: CodeMeetingCancelled, Message: "the host cancelled this meeting"}
	ErrMeetingLive      = &Error{Code: CodeMeetingLive, Message: "the meeting is in progress: change or cancel it before it starts, or end it"}
)
