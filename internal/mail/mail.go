// Package mail sends the product's outgoing mail (password resets, invitations) through a
// Sender: SMTP in production, or a dev outbox of files in the data directory that the
// operator can read when no mail server is configured.
package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Message is one plain-text mail.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Sender delivers mail.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrBadAddress is returned for a recipient that is not one plain address.
var ErrBadAddress = errors.New("mail: invalid recipient address")

func validate(m Message) error {
	a, err := mail.ParseAddress(m.To)
	if err != nil || a.Address != m.To {
		return ErrBadAddress
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return errors.New("mail: subject contains a line break")
	}
	return nil
}

// Outbox writes each message to a file in Dir: the default sender, so that a server
// started with no configuration can still deliver a password reset link to its operator.
type Outbox struct {
	Dir string
	Now func() time.Time
}

// Send writes the message as an .eml file readable by the owner only.
func (o *Outbox) Send(_ context.Context, m Message) error {
	if err := validate(m); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := fmt.Sprintf("%s-%s.eml", now().UTC().Format("20060102T150405.000"), hex.EncodeToString(suffix[:]))
	return os.WriteFile(filepath.Join(o.Dir, name), []byte(render("meridian@localhost", m)), 0o600)
}

// SMTP sends through a mail server.
type SMTP struct {
	Addr     string // host:port
	From     string
	Username string
	Password string
}

// Send delivers the message; STARTTLS is used when the server offers it.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := validate(m); err != nil {
		return err
	}
	host, _, _ := strings.Cut(s.Addr, ":")
	var auth smtp.Auth
	if s.Username != "" {
		auth = smtp.PlainAuth("", s.Username, s.Password, host)
	}
	done := make(chan error, 1)
	go func() { done <- smtp.SendMail(s.Addr, auth, s.From, []string{m.To}, []byte(render(s.From, m))) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("smtp send: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func render(from string, m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", from, m.To, m.Subject)
	b.WriteString(strings.ReplaceAll(m.Body, "\n", "\r\n"))
	return b.String()
}
