package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/meridian-video/meridian/internal/mail"
	"github.com/meridian-video/meridian/internal/store"
)

// Bounds of the mail queue (password resets and member invitations): how many requests may
// wait for the mail server, how many mails are sent at once, and how long one may take.
const (
	resetQueueSize = 256
	resetWorkers   = 2
	resetMailTime  = 30 * time.Second
)

// resetJob is one accepted reset request. The address is looked up by the worker, not by
// the request, so that the request does the same work whether the address has a user or
// not, and never waits for the mail server.
type resetJob struct {
	email string
	link  *url.URL
	at    time.Time
}

// resetQueue runs reset requests and invitation mails outside the HTTP requests that made
// them, on a fixed number of workers. A request that finds it full is dropped (and
// logged): to the caller it looks like any other.
type resetQueue struct {
	jobs chan func(context.Context)
	// mu guards closed; enqueue holds it shared so that close never races a send.
	mu     sync.RWMutex
	closed bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (s *Service) startResetQueue() {
	q := &resetQueue{jobs: make(chan func(context.Context), resetQueueSize)}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	for range resetWorkers {
		q.wg.Go(func() {
			for job := range q.jobs {
				job(q.ctx)
			}
		})
	}
	s.resets = q
}

func (q *resetQueue) enqueue(job func(context.Context)) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return false
	}
	select {
	case q.jobs <- job:
		return true
	default:
		return false
	}
}

// Close stops taking reset requests and invitations and sends the mails of those already
// accepted, until ctx ends; then it abandons the rest. It is for shutdown, after the HTTP
// server has stopped.
func (s *Service) Close(ctx context.Context) error {
	q := s.resets
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	q.mu.Unlock()
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		q.cancel()
		<-done
		return fmt.Errorf("account: queued mails abandoned at shutdown: %w", ctx.Err())
	}
}

// sendReset makes a reset link for the job's address, if it has a user, and mails it.
func (s *Service) sendReset(ctx context.Context, j resetJob) {
	u, err := s.store.GetUserByEmail(ctx, j.email)
	if errors.Is(err, store.ErrNotFound) {
		s.audit(ctx, "anonymous", "user.password_reset_request", "", "unknown_email", "")
		return
	}
	if err != nil {
		s.log.ErrorContext(ctx, "password reset not made", "err", err)
		return
	}
	token := rand.Text()
	if err := s.addCredential(ctx, CredentialReset, token); err != nil {
		// No mail rather than a link that nodes of other regions could not route home.
		s.log.ErrorContext(ctx, "password reset not made", "user", u.ID, "err", err)
		return
	}
	pr, err := s.store.CreatePasswordReset(ctx, store.NewPasswordReset{
		Token: token, UserID: u.ID, CreatedAt: j.at, ExpiresAt: j.at.Add(s.resetTTL),
	})
	if err != nil {
		s.log.ErrorContext(ctx, "password reset not stored", "user", u.ID, "err", err)
		return
	}
	// An OEM partner's customer knows the product by the partner's name, at its domain.
	brand := s.mailBrand(ctx, u.AccountID)
	link := rebase(*j.link, brand.BaseURL)
	q := link.Query()
	q.Set("token", token)
	link.RawQuery = q.Encode()
	msg := mail.Message{
		To:      u.Email,
		Subject: "Reset your " + oneLine(brand.Name) + " password",
		Body: fmt.Sprintf("Someone asked to reset the password of your %s account.\n\n"+
			"To choose a new password, open this link before %s:\n\n%s\n\n"+
			"The link works once. If you did not ask for it, ignore this mail: your password stays as it is.\n",
			brand.Name, pr.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"), link.String()),
	}
	mctx, cancel := context.WithTimeout(ctx, resetMailTime)
	defer cancel()
	if err := s.mail.Send(mctx, msg); err != nil {
		s.log.ErrorContext(ctx, "password reset mail not sent", "user", u.ID, "err", err)
		s.audit(ctx, u.ID, "user.password_reset_request", u.ID, "mail_failed", "")
		return
	}
	s.audit(ctx, u.ID, "user.password_reset_request", u.ID, "sent", "")
}

// oneLine keeps a brand name from breaking a mail header.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}
