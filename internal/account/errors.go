package account

import (
	"errors"
	"fmt"
	"time"
)

// Error is a refusal the caller can act on: a stable Code for programs (the HTTP API sends
// it as is) and a Message for people. Compare with errors.Is against the sentinels below;
// two Errors match when their codes are equal, so a sentinel matches every refusal of its
// kind whatever its message or cause.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when set, says how long to wait before trying again (rate_limited).
	RetryAfter time.Duration
	err        error
}

func (e *Error) Error() string {
	if e.err != nil {
		return "account: " + e.Message + ": " + e.err.Error()
	}
	return "account: " + e.Message
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Is matches another *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Stable error codes.
const (
	CodeInvalidInput       = "invalid_input"
	CodeEmailTaken         = "email_taken"
	CodeWeakPassword       = "weak_password"
	CodeInvalidCredentials = "invalid_credentials"
	CodeUnauthenticated    = "unauthenticated"
	CodeRateLimited        = "rate_limited"
	CodeForbidden          = "forbidden"
	CodeNotFound           = "not_found"
	CodeInvalidToken       = "invalid_token"
	CodeInternal           = "internal"
)

// CodeInvisibleCharacters refuses a name with bidi controls, zero-width or other invisible
// characters, with which one person could pass for another (see package label).
const CodeInvisibleCharacters = "invisible_characters"

// Sentinel refusals; see Error.
var (
	ErrInvalidInput = &Error{Code: CodeInvalidInput, Message: "the request is not valid"}
	ErrEmailTaken   = &Error{Code: CodeEmailTaken, Message: "an account with this email address already exists"}
	// ErrInvalidCredentials is the one answer to a wrong password and to an unknown email
	// address alike, so that sign-in does not tell which addresses have accounts.
	ErrInvalidCredentials = &Error{Code: CodeInvalidCredentials, Message: "the email address or password is wrong"}
	// ErrUnauthenticated: no session, or one that is unknown, expired or revoked; or an API
	// key that is malformed, unknown or revoked.
	ErrUnauthenticated = &Error{Code: CodeUnauthenticated, Message: "sign in first (the session or API key is missing, expired or revoked)"}
	ErrRateLimited     = &Error{Code: CodeRateLimited, Message: "too many failed attempts; wait and try again"}
	ErrForbidden       = &Error{Code: CodeForbidden, Message: "your role or key does not allow this"}
	ErrNotFound        = &Error{Code: CodeNotFound, Message: "no such thing"}
	// ErrInvalidToken: a password-reset token that is unknown, used or expired (alike).
	ErrInvalidToken = &Error{Code: CodeInvalidToken, Message: "the reset link is invalid, used or expired; request a new one"}
)

// weakPassword is the refusal of a password outside the length bounds; it wraps
// ErrWeakPassword.
func weakPassword() *Error {
	return &Error{Code: CodeWeakPassword, err: ErrWeakPassword,
		Message: fmt.Sprintf("the password must be %d to %d characters long", MinPasswordLength, MaxPasswordLength)}
}

// invalid returns an invalid_input refusal with its own message.
func invalid(msg string) *Error { return &Error{Code: CodeInvalidInput, Message: msg} }

// forbidden returns a forbidden refusal with its own message.
func forbidden(msg string) *Error { return &Error{Code: CodeForbidden, Message: msg} }

// CodeOf returns the stable code of err and a message that is safe to show: the Error's
// own for a refusal, weak_password for ErrWeakPassword (from HashPassword), and internal
// with a generic message for anything else (whose details belong in the log, not in a
// response).
func CodeOf(err error) (code, message string) {
	if e := (*Error)(nil); errors.As(err, &e) {
		return e.Code, e.Message
	}
	if errors.Is(err, ErrWeakPassword) {
		return CodeWeakPassword, weakPassword().Message
	}
	return CodeInternal, "something went wrong on the server"
}
