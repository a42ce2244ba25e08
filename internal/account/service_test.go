package account

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/mail"
	"github.com/meridian-video/meridian/internal/ratelimit"
	"github.com/meridian-video/meridian/internal/store"
)

// recordingSender is a test double for mail.Sender: it keeps every message instead of
// delivering it, and fails when told to.
type recordingSender struct {
	mu   sync.Mutex
	msgs []mail.Message
	fail error
}

func (r *recordingSender) Send(_ context.Context, m mail.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recordingSender) sent() []mail.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

func (r *recordingSender) failWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

// wait returns the messages once there are at least n: reset mails are sent after the
// request returns.
func (r *recordingSender) wait(t *testing.T, n int) []mail.Message {
	t.Helper()
	eventually(t, func() bool { return len(r.sent()) >= n })
	return r.sent()
}

// eventually fails the test if cond does not become true within 10 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Sleep waits on the fake clock: it moves it on by d and remembers the wait.
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
		c.slept = append(c.slept, d)
	}
	return nil
}

// waits returns and forgets the waits Sleep was asked for.
func (c *fakeClock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.slept
	c.slept = nil
	return w
}

type fixture struct {
	svc   *Service
	st    *store.Store
	mail  *recordingSender
	clock *fakeClock
	audit *auditlog.Log
}

// newFixture returns a Service over a real SQLite store in a temporary directory.
func newFixture(t *testing.T, limits Limits) *fixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, mail: &recordingSender{}, clock: &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.audit = auditlog.New(st, auditlog.Options{Now: f.clock.Now, Log: log})
	f.svc, err = New(st, f.mail, Options{
		Now:    f.clock.Now,
		Log:    log,
		Limits: limits,
		Audit:  f.audit,
		Sleep:  f.clock.Sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.svc.Close(context.Background()) })
	return f
}

const pw = "correct horse battery"

func (f *fixture) signUp(t *testing.T, email string) (Principal, SessionTokens) {
	t.Helper()
	p, tok, err := f.svc.SignUp(t.Context(), SignUpInput{
		AccountType: TypeBusiness, AccountName: "Acme", Email: email, DisplayName: "Ada", Password: pw, ClientIP: "192.0.2.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, tok
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got, _ := CodeOf(err); got != code {
		t.Fatalf("error %v (code %s), want code %s", err, got, code)
	}
}

// auditHas reports whether the audit log holds an entry with this action and outcome.
func (f *fixture) auditHas(t *testing.T, action, outcome string) bool {
	t.Helper()
	return slices.ContainsFunc(f.auditEntries(t), func(e store.AuditEntry) bool { return e.Action == action && e.Outcome == outcome })
}

// auditEntries returns the whole audit log, with the repeats counted so far written.
func (f *fixture) auditEntries(t *testing.T) []store.AuditEntry {
	t.Helper()
	f.audit.Flush(t.Context())
	es, err := f.st.ListAudit(t.Context(), store.AuditQuery{Limit: store.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestSignUpSignInSignOut(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	p, tok, err := f.svc.SignUp(ctx, SignUpInput{
		AccountType: TypeIndividual, Email: " Ada@Example.com ", DisplayName: "Ada Lovelace", Password: pw,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.User.Role != RoleOwner || p.Account.Plan != string(Free) || p.Account.Type != TypeIndividual ||
		p.Account.Name != "Ada Lovelace" || p.User.Email != "ada@example.com" || p.User.PasswordHash != "" {
		t.Fatalf("principal %+v", p)
	}
	if tok.Token == "" || tok.CSRFToken == "" || tok.Token == tok.CSRFToken {
		t.Fatalf("tokens %+v", tok)
	}
	got, err := f.svc.Authenticate(ctx, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if got.User.ID != p.User.ID || got.Account.ID != p.Account.ID || !got.VerifyCSRF(tok.CSRFToken) ||
		got.VerifyCSRF(tok.Token) || got.VerifyCSRF("") || got.ViaAPIKey() {
		t.Fatalf("authenticated %+v", got)
	}

	p2, tok2, err := f.svc.SignIn(ctx, "ADA@example.com", pw, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if p2.User.ID != p.User.ID || tok2.Token == tok.Token {
		t.Fatalf("sign-in %+v %+v", p2, tok2)
	}
	if err := f.svc.SignOut(ctx, tok2.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, tok2.Token); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("signed-out session: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, tok.Token); err != nil {
		t.Fatalf("the other session ended too: %v", err)
	}
	if err := f.svc.SignOut(ctx, tok2.Token); err != nil {
		t.Fatalf("signing out twice: %v", err)
	}
	f.clock.Advance(DefaultSessionTTL + time.Second)
	if _, err := f.svc.Authenticate(ctx, tok.Token); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("expired session: %v", err)
	}
	for _, a := range [][2]string{{"account.sign_up", "ok"}, {"user.sign_in", "ok"}, {"user.sign_out", "ok"}} {
		if !f.auditHas(t, a[0], a[1]) {
			t.Errorf("no audit entry %s %s", a[0], a[1])
		}
	}
}

func TestSignUpRefusals(t *testing.T) {
	f := newFixture(t, Limits{})
	f.signUp(t, "taken@example.com")
	ok := SignUpInput{AccountType: TypeBusiness, AccountName: "Acme", Email: "new@example.com", DisplayName: "N", Password: pw}
	for name, c := range map[string]struct {
		mut  func(*SignUpInput)
		code string
	}{
		"business without name":  {func(in *SignUpInput) { in.AccountName = "  " }, CodeInvalidInput},
		"unknown type":           {func(in *SignUpInput) { in.AccountType = "charity" }, CodeInvalidInput},
		"bad email":              {func(in *SignUpInput) { in.Email = "not an address" }, CodeInvalidInput},
		"named email":            {func(in *SignUpInput) { in.Email = "Ann <ann@example.com>" }, CodeInvalidInput},
		"no display name":        {func(in *SignUpInput) { in.DisplayName = "" }, CodeInvalidInput},
		"control characters":     {func(in *SignUpInput) { in.DisplayName = "a\x00b" }, CodeInvalidInput},
		"right-to-left override": {func(in *SignUpInput) { in.DisplayName = "Ada\u202E (host)" }, CodeInvisibleCharacters},
		"zero-width space":       {func(in *SignUpInput) { in.DisplayName = "A\u200Bda" }, CodeInvisibleCharacters},
		"hangul filler":          {func(in *SignUpInput) { in.DisplayName = "\u3164" }, CodeInvisibleCharacters},
		"invisible account name": {func(in *SignUpInput) { in.AccountName = "Acme\u2066" }, CodeInvisibleCharacters},
		"short password":         {func(in *SignUpInput) { in.Password = "short" }, CodeWeakPassword},
		"email taken":            {func(in *SignUpInput) { in.Email = "TAKEN@example.com" }, CodeEmailTaken},
	} {
		in := ok
		c.mut(&in)
		_, _, err := f.svc.SignUp(t.Context(), in)
		if got, _ := CodeOf(err); got != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	_, _, err := f.svc.SignUp(t.Context(), SignUpInput{AccountType: TypeIndividual, Email: "w@example.com", DisplayName: "W", Password: "short"})
	if !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("weak password error %v does not wrap ErrWeakPassword", err)
	}
	if _, err := f.st.GetUserByEmail(t.Context(), "new@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused sign-up left a user: %v", err)
	}
}

// A wrong password and an unknown address get the same answer after comparable work, so
// that sign-in does not tell which addresses have accounts.
func TestSignInDoesNotRevealWhichEmailsExist(t *testing.T) {
	f := newFixture(t, Limits{
		SignInPerEmail: RateLimit{Every: time.Millisecond, Burst: 100},
		SignInPerIP:    RateLimit{Every: time.Millisecond, Burst: 100},
	})
	f.signUp(t, "ada@example.com")
	ctx := t.Context()
	timed := func(email string) (error, time.Duration) {
		var errs []error
		var ds []time.Duration
		for range 3 {
			start := time.Now()
			_, _, err := f.svc.SignIn(ctx, email, "wrong password 123", "192.0.2.7")
			ds = append(ds, time.Since(start))
			errs = append(errs, err)
		}
		slices.Sort(ds)
		return errs[0], ds[1]
	}
	wrongErr, wrongD := timed("ada@example.com")
	unknownErr, unknownD := timed("nobody@example.com")
	if !errors.Is(wrongErr, ErrInvalidCredentials) || !errors.Is(unknownErr, ErrInvalidCredentials) {
		t.Fatalf("errors %v / %v", wrongErr, unknownErr)
	}
	if wrongErr.Error() != unknownErr.Error() {
		t.Fatalf("answers differ: %q / %q", wrongErr, unknownErr)
	}
	// Without the dummy argon2 check an unknown address answers in a fraction of a
	// millisecond; with it, it costs about what a wrong password costs.
	if unknownD < wrongD/3 {
		t.Fatalf("unknown address answered in %v, wrong password in %v: timing tells them apart", unknownD, wrongD)
	}
	if !f.auditHas(t, "user.sign_in", "denied") {
		t.Fatal("failed sign-ins not audited")
	}
}

func TestSignInRateLimitedAfterRepeatedFailures(t *testing.T) {
	f := newFixture(t, Limits{
		SignInPerEmailIP: RateLimit{Every: time.Minute, Burst: 3},
		SignInPerIP:      RateLimit{Every: time.Minute, Burst: 6},
	})
	f.signUp(t, "ada@example.com")
	ctx := t.Context()
	for range 3 {
		_, _, err := f.svc.SignIn(ctx, "ada@example.com", "wrong password 123", "192.0.2.1")
		wantCode(t, err, CodeInvalidCredentials)
	}
	// That client's bucket for that address is empty: even the right password is refused
	// from it until the bucket refills.
	_, _, err := f.svc.SignIn(ctx, "ada@example.com", pw, "192.0.2.1")
	wantCode(t, err, CodeRateLimited)
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter <= 0 {
		t.Fatalf("no retry-after in %#v", err)
	}
	if !f.auditHas(t, "user.sign_in", "rate_limited") {
		t.Fatal("rate-limited sign-in not audited")
	}
	// An IPv6 client is its /64.
	for range 3 {
		_, _, err := f.svc.SignIn(ctx, "ada@example.com", "wrong password 123", "2001:db8:7:7::1")
		wantCode(t, err, CodeInvalidCredentials)
	}
	_, _, err = f.svc.SignIn(ctx, "ada@example.com", pw, "2001:db8:7:7:ffff::2")
	wantCode(t, err, CodeRateLimited)
	// Anyone else with the password gets in.
	if _, _, err := f.svc.SignIn(ctx, "ada@example.com", pw, "192.0.2.2"); err != nil {
		t.Fatalf("from another address: %v", err)
	}
	f.clock.Advance(time.Minute)
	if _, _, err := f.svc.SignIn(ctx, "ada@example.com", pw, "192.0.2.1"); err != nil {
		t.Fatalf("after refilling: %v", err)
	}

	// Per client address: unknown addresses count like known ones (so the limit tells
	// nothing), and one client trying many addresses runs out too.
	for i := range 6 {
		_, _, err := f.svc.SignIn(ctx, fmt.Sprintf("u%d@example.com", i), "wrong password 123", "198.51.100.9")
		wantCode(t, err, CodeInvalidCredentials)
	}
	_, _, err = f.svc.SignIn(ctx, "fresh@example.com", "wrong password 123", "198.51.100.9")
	wantCode(t, err, CodeRateLimited)
	_, _, err = f.svc.SignIn(ctx, "fresh@example.com", "wrong password 123", "203.0.113.5")
	wantCode(t, err, CodeInvalidCredentials) // another client is not held back
}

// An IPv6 customer's /64s are one site: rotating through them gains nothing past the
// site's limit, and other sites are not held back.
func TestSignInLimitedPerIPv6Site(t *testing.T) {
	f := newFixture(t, Limits{SignInPerSite: RateLimit{Every: time.Hour, Burst: 3}})
	f.signUp(t, "ada@example.com")
	ctx := t.Context()
	for i := range 3 {
		_, _, err := f.svc.SignIn(ctx, "ada@example.com", "wrong password 123", fmt.Sprintf("2001:db8:5:%x::1", i+1))
		wantCode(t, err, CodeInvalidCredentials)
	}
	_, _, err := f.svc.SignIn(ctx, "ada@example.com", pw, "2001:db8:5:ff::1")
	wantCode(t, err, CodeRateLimited)
	if _, _, err := f.svc.SignIn(ctx, "ada@example.com", pw, "2001:db8:6::1"); err != nil {
		t.Fatalf("another site: %v", err)
	}
}

// Guesses from other addresses never keep the owner out: with the default limits, four
// addresses guessing the password as fast as they are let, the owner signs in from a
// fresh address every time, slowed at most by SignInMaxDelay.
func TestSignInOwnerNotLockedOutByOthersGuessing(t *testing.T) {
	f := newFixture(t, Limits{})
	f.signUp(t, "ada@example.com")
	ctx := t.Context()
	maxDelay := DefaultLimits().SignInMaxDelay
	guessed, refused := 0, 0
	for round := range 20 {
		for a := range 4 {
			// Each attacker rotates through its /64, which counts as one address.
			ip := fmt.Sprintf("2001:db8:%d::%x", a, round+1)
			_, _, err := f.svc.SignIn(ctx, "ada@example.com", fmt.Sprintf("guess %d-%d password", a, round), ip)
			switch code, _ := CodeOf(err); code {
			case CodeInvalidCredentials:
				guessed++
			case CodeRateLimited:
				refused++
			default:
				t.Fatalf("guess: %v", err)
			}
		}
		if _, _, err := f.svc.SignIn(ctx, "ada@example.com", pw, fmt.Sprintf("203.0.113.%d", round+1)); err != nil {
			t.Fatalf("round %d: the owner, from a fresh address, was refused: %v", round, err)
		}
		for _, d := range f.clock.waits() {
			if d > maxDelay {
				t.Fatalf("round %d: a sign-in waited %v, more than %v", round, d, maxDelay)
			}
		}
	}
	if burst := DefaultLimits().SignInPerEmailIP.Burst; guessed != 4*burst || refused != 80-4*burst {
		t.Fatalf("%d guesses checked and %d refused, want %d checked: the per-address limit holds each guesser", guessed, refused, 4*burst)
	}
}

// Parallel guesses cannot overdraw a bucket: attempts in flight hold a token each.
func TestSignInParallelGuessesBounded(t *testing.T) {
	f := newFixture(t, Limits{
		SignInPerEmailIP: RateLimit{Every: time.Hour, Burst: 3},
		SignInPerIP:      RateLimit{Every: time.Hour, Burst: 100},
	})
	f.signUp(t, "ada@example.com")
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := range 12 {
		wg.Go(func() {
			_, _, err := f.svc.SignIn(t.Context(), "ada@example.com", "wrong password 123", fmt.Sprintf("2001:db8::%d", i+1))
			code, _ := CodeOf(err)
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[CodeInvalidCredentials] > 3 || codes[CodeInvalidCredentials]+codes[CodeRateLimited] != 12 {
		t.Fatalf("outcomes %v: more than 3 guesses were checked", codes)
	}
}

// Refused sign-ins do not grow the audit log without bound: thousands of them write a
// bounded number of rows, whose counts add up to every refusal.
func TestRefusedSignInsWriteBoundedAudit(t *testing.T) {
	f := newFixture(t, Limits{
		SignInPerEmailIP: RateLimit{Every: time.Hour, Burst: 2},
		SignInPerIP:      RateLimit{Every: time.Hour, Burst: 2},
	})
	f.signUp(t, "ada@example.com")
	ctx := t.Context()
	const attempts = 3000
	for i := range attempts {
		if i == attempts/2 {
			f.clock.Advance(auditlog.DefaultWindow) // a second window
		}
		_, _, err := f.svc.SignIn(ctx, "ada@example.com", "wrong password 123", fmt.Sprintf("198.51.100.%d", i%3))
		if err == nil {
			t.Fatal("a wrong password signed in")
		}
	}
	rows, sum := 0, int64(0)
	for _, e := range f.auditEntries(t) {
		if e.Action == "user.sign_in" {
			rows++
			sum += e.Count
		}
	}
	// Per window, at most two rows for each of 3 addresses and 2 outcomes.
	if rows > 2*3*2*2 || sum != attempts {
		t.Fatalf("%d audit rows counting %d sign-ins, want at most 24 rows counting %d", rows, sum, attempts)
	}
}

func TestLimiterSetStaysBounded(t *testing.T) {
	ls := ratelimit.NewSet(RateLimit{Every: time.Minute, Burst: 2}, 5)
	now := time.Unix(0, 0)
	for i := range 100 {
		if ok, _ := ls.Take(fmt.Sprint("k", i), now); !ok {
			t.Fatalf("key %d refused on its first attempt", i)
		}
		if n := ls.Size(); n > 5 {
			t.Fatalf("%d keys remembered, bound is 5", n)
		}
	}
	// Refilled buckets go first; then the least recently seen: a key still being
	// hammered is kept.
	ls = ratelimit.NewSet(RateLimit{Every: time.Hour, Burst: 2}, 3)
	ls.Take("a", now)
	ls.Take("b", now)
	ls.Take("hot", now)
	ls.Take("hot", now)
	if ok, wait := ls.Take("hot", now.Add(time.Second)); ok || wait <= 0 {
		t.Fatalf("empty bucket: ok=%v wait=%v", ok, wait)
	}
	ls.Take("c", now.Add(2*time.Second)) // full: evicts a
	if ok, _ := ls.Take("hot", now.Add(3*time.Second)); ok || ls.Size() != 3 {
		t.Fatalf("the limited key was forgotten (size %d)", ls.Size())
	}
	if ratelimit.IPKey("2001:db8::1") != ratelimit.IPKey("2001:db8::2") || ratelimit.IPKey("192.0.2.1") == ratelimit.IPKey("192.0.2.2") ||
		ratelimit.IPKey("::ffff:192.0.2.1") != "192.0.2.1" {
		t.Fatal("ipKey groups addresses wrongly")
	}
}

func TestChangePasswordRevokesOtherSessions(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	_, a := f.signUp(t, "ada@example.com")
	_, b, err := f.svc.SignIn(ctx, "ada@example.com", pw, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	pa, err := f.svc.Authenticate(ctx, a.Token)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.ChangePassword(ctx, pa, "not the password", "a brand new password")
	wantCode(t, err, CodeInvalidCredentials)
	_, err = f.svc.ChangePassword(ctx, pa, pw, "short")
	wantCode(t, err, CodeWeakPassword)
	if !f.auditHas(t, "user.password_change", "denied") {
		t.Fatal("refused change not audited")
	}

	c, err := f.svc.ChangePassword(ctx, pa, pw, "a brand new password")
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"other": b.Token, "old own": a.Token} {
		if _, err := f.svc.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s session still works: %v", name, err)
		}
	}
	pc, err := f.svc.Authenticate(ctx, c.Token)
	if err != nil {
		t.Fatalf("the caller's new session: %v", err)
	}
	if !pc.VerifyCSRF(c.CSRFToken) || pc.VerifyCSRF(a.CSRFToken) {
		t.Fatal("the new session's CSRF token is not the new one")
	}
	if _, _, err := f.svc.SignIn(ctx, "ada@example.com", pw, "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password: %v", err)
	}
	if _, _, err := f.svc.SignIn(ctx, "ada@example.com", "a brand new password", "192.0.2.1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if !f.auditHas(t, "user.password_change", "ok") {
		t.Fatal("password change not audited")
	}
}

func TestPasswordResetFlow(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	_, tok := f.signUp(t, "ada@example.com")

	if err := f.svc.RequestPasswordReset(ctx, "nobody@example.com", "https://meet.example/reset"); err != nil {
		t.Fatalf("unknown address: %v", err)
	}
	eventually(t, func() bool { return f.auditHas(t, "user.password_reset_request", "unknown_email") })
	if n := len(f.mail.sent()); n != 0 {
		t.Fatalf("%d mails for an unknown address", n)
	}
	wantCode(t, f.svc.RequestPasswordReset(ctx, "not an address", "https://meet.example/reset"), CodeInvalidInput)

	if err := f.svc.RequestPasswordReset(ctx, "Ada@Example.com", "https://meet.example/reset"); err != nil {
		t.Fatal(err)
	}
	msgs := f.mail.wait(t, 1)
	if len(msgs) != 1 || msgs[0].To != "ada@example.com" {
		t.Fatalf("mails %+v", msgs)
	}
	token := tokenFromMail(t, msgs[0].Body)

	wantCode(t, f.svc.ResetPassword(ctx, token, "short"), CodeWeakPassword)
	if err := f.svc.ResetPassword(ctx, token, "reset to this one"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, tok.Token); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("session survived the reset: %v", err)
	}
	if _, _, err := f.svc.SignIn(ctx, "ada@example.com", "reset to this one", "192.0.2.1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, _, err := f.svc.SignIn(ctx, "ada@example.com", pw, "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password: %v", err)
	}
	wantCode(t, f.svc.ResetPassword(ctx, token, "and again this one"), CodeInvalidToken)
	wantCode(t, f.svc.ResetPassword(ctx, "made-up-token", "and again this one"), CodeInvalidToken)

	// A link expires after an hour.
	if err := f.svc.RequestPasswordReset(ctx, "ada@example.com", "https://meet.example/reset"); err != nil {
		t.Fatal(err)
	}
	msgs = f.mail.wait(t, 2)
	late := tokenFromMail(t, msgs[len(msgs)-1].Body)
	f.clock.Advance(time.Hour + time.Second)
	wantCode(t, f.svc.ResetPassword(ctx, late, "too late for this"), CodeInvalidToken)

	// A mail that cannot be sent is logged, not reported to the caller.
	f.mail.failWith(errors.New("smtp down"))
	if err := f.svc.RequestPasswordReset(ctx, "ada@example.com", "https://meet.example/reset"); err != nil {
		t.Fatalf("mail failure reached the caller: %v", err)
	}
	eventually(t, func() bool { return f.auditHas(t, "user.password_reset_request", "mail_failed") })
	for _, a := range [][2]string{{"user.password_reset_request", "sent"}, {"user.password_reset_request", "unknown_email"},
		{"user.password_reset_request", "mail_failed"}, {"user.password_reset", "ok"}, {"user.password_reset", "invalid_token"}} {
		if !f.auditHas(t, a[0], a[1]) {
			t.Errorf("no audit entry %s %s", a[0], a[1])
		}
	}
}

// Changing the password spends the reset links asked for before: one left in a mailbox
// cannot undo the change.
func TestChangePasswordSpendsResetLinks(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	p, _ := f.signUp(t, "ada@example.com")
	if err := f.svc.RequestPasswordReset(ctx, "ada@example.com", "https://meet.example/reset"); err != nil {
		t.Fatal(err)
	}
	old := tokenFromMail(t, f.mail.wait(t, 1)[0].Body)
	if _, err := f.svc.ChangePassword(ctx, p, pw, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.svc.ResetPassword(ctx, old, "the attacker's choice"), CodeInvalidToken)
	if _, _, err := f.svc.SignIn(ctx, "ada@example.com", "a brand new password", "192.0.2.1"); err != nil {
		t.Fatalf("the changed password no longer works: %v", err)
	}
}

func TestPasswordResetRequestsLimited(t *testing.T) {
	f := newFixture(t, Limits{ResetPerEmail: RateLimit{Every: time.Hour, Burst: 2}})
	f.signUp(t, "ada@example.com")
	for range 5 {
		if err := f.svc.RequestPasswordReset(t.Context(), "ada@example.com", "https://meet.example/reset"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Close(t.Context()); err != nil { // sends what was accepted
		t.Fatal(err)
	}
	if n := len(f.mail.sent()); n != 2 {
		t.Fatalf("%d mails sent, want 2", n)
	}
}

// slowMailServer is a test double for the outside mail server (a mail.Sender): each Send
// blocks until the test releases it, like an SMTP server that takes its time.
type slowMailServer struct {
	entered chan mail.Message
	release chan struct{}
}

func (m *slowMailServer) Send(ctx context.Context, msg mail.Message) error {
	m.entered <- msg
	select {
	case <-m.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A reset request returns without waiting for the mail server, for a known address as
// for an unknown one, and the mail is still delivered afterwards; shutting down sends it.
func TestPasswordResetDoesNotWaitForTheMailServer(t *testing.T) {
	f := newFixture(t, Limits{})
	f.signUp(t, "ada@example.com")
	slow := &slowMailServer{entered: make(chan mail.Message, 4), release: make(chan struct{})}
	svc, err := New(f.st, slow, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"ada@example.com", "nobody@example.com"} {
		returned := make(chan error, 1)
		go func() { returned <- svc.RequestPasswordReset(t.Context(), addr, "https://meet.example/reset") }()
		select {
		case err := <-returned:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second): // the mail server is never released meanwhile
			t.Fatalf("the request for %s waited for the mail server", addr)
		}
	}
	msg := <-slow.entered
	if msg.To != "ada@example.com" {
		t.Fatalf("mail to %q", msg.To)
	}
	close(slow.release)
	if err := svc.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !f.auditHas(t, "user.password_reset_request", "sent") || !f.auditHas(t, "user.password_reset_request", "unknown_email") {
		t.Fatal("the queued requests were not carried out")
	}
	if len(slow.entered) != 0 {
		t.Fatal("a mail for the unknown address")
	}
}

func tokenFromMail(t *testing.T, body string) string {
	t.Helper()
	for _, field := range strings.Fields(body) {
		if u, err := url.Parse(field); err == nil && strings.HasPrefix(field, "https://meet.example/reset?") {
			if tok := u.Query().Get("token"); tok != "" {
				return tok
			}
		}
	}
	t.Fatalf("no reset link in %q", body)
	return ""
}

func TestAPIKeys(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := t.Context()
	owner, _ := f.signUp(t, "ada@example.com")

	key, secret, err := f.svc.CreateAPIKey(ctx, owner, "ci", []string{ScopeAccountRead, ScopeKeysWrite, ScopeAccountRead})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "mk_"+key.Prefix+"_") || !LooksLikeAPIKey(secret) {
		t.Fatalf("key %q with prefix %q", secret, key.Prefix)
	}
	if !slices.Equal(key.Scopes, []string{ScopeAccountRead, ScopeKeysWrite}) {
		t.Fatalf("scopes %v", key.Scopes)
	}

	list, err := f.svc.ListAPIKeys(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	_, secretPart, _ := strings.Cut(strings.TrimPrefix(secret, "mk_"), "_")
	if len(list) != 1 || list[0].ID != key.ID || strings.Contains(fmt.Sprintf("%#v", list), secretPart) ||
		strings.Contains(fmt.Sprintf("%#v", list), store.HashToken(secretPart)) {
		t.Fatalf("list %#v shows the secret or its hash", list)
	}

	p, err := f.svc.AuthenticateAPIKey(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if !p.ViaAPIKey() || p.Account.ID != owner.Account.ID || !p.Allows(ScopeAccountRead) || p.Allows(ScopeMeetingsWrite) ||
		p.Actor() != "apikey:"+key.ID || p.VerifyCSRF("anything") {
		t.Fatalf("key principal %+v", p)
	}
	wrong := secret[:len(secret)-1] + "a"
	if strings.HasSuffix(secret, "a") {
		wrong = secret[:len(secret)-1] + "b"
	}
	for _, bad := range []string{wrong, "mk_short_x", "", "Bearer " + secret, secret + "x"} {
		if _, err := f.svc.AuthenticateAPIKey(ctx, bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%q: %v", bad, err)
		}
	}

	// A key cannot grant what it lacks; it can grant what it has.
	_, _, err = f.svc.CreateAPIKey(ctx, p, "escalate", []string{ScopeMeetingsWrite})
	wantCode(t, err, CodeForbidden)
	if _, _, err := f.svc.CreateAPIKey(ctx, p, "child", []string{ScopeAccountRead}); err != nil {
		t.Fatalf("key creating a narrower key: %v", err)
	}
	if _, err := f.svc.ListAPIKeys(ctx, p); !errors.Is(err, ErrForbidden) {
		t.Fatalf("listing without keys:read: %v", err)
	}

	_, _, err = f.svc.CreateAPIKey(ctx, owner, "x", nil)
	wantCode(t, err, CodeInvalidInput)
	_, _, err = f.svc.CreateAPIKey(ctx, owner, "x", []string{"everything"})
	wantCode(t, err, CodeInvalidInput)
	_, _, err = f.svc.CreateAPIKey(ctx, owner, "", []string{ScopeAccountRead})
	wantCode(t, err, CodeInvalidInput)

	// Members may not manage keys. (No invitation flow exists yet to add a member to an
	// account, so the member is the owner's principal with the member role.)
	member := owner
	member.User.Role = RoleMember
	_, _, err = f.svc.CreateAPIKey(ctx, member, "sneaky", []string{ScopeAccountRead})
	wantCode(t, err, CodeForbidden)
	if _, err := f.svc.ListAPIKeys(ctx, member); !errors.Is(err, ErrForbidden) {
		t.Fatalf("member listing keys: %v", err)
	}
	wantCode(t, f.svc.RevokeAPIKey(ctx, member, key.ID), CodeForbidden)
	admin := owner
	admin.User.Role = RoleAdmin
	if _, err := f.svc.ListAPIKeys(ctx, admin); err != nil {
		t.Fatalf("admin listing keys: %v", err)
	}

	// Another account cannot see or revoke this account's key.
	other, _ := f.signUp(t, "bob@example.com")
	wantCode(t, f.svc.RevokeAPIKey(ctx, other, key.ID), CodeNotFound)

	if err := f.svc.RevokeAPIKey(ctx, owner, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateAPIKey(ctx, secret); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked key: %v", err)
	}
	list, _ = f.svc.ListAPIKeys(ctx, owner)
	if !slices.ContainsFunc(list, func(k APIKey) bool { return k.ID == key.ID && k.Revoked() }) {
		t.Fatalf("revoked key not listed as revoked: %+v", list)
	}
	for _, a := range [][2]string{{"api_key.create", "ok"}, {"api_key.create", "denied"}, {"api_key.revoke", "ok"}, {"api_key.revoke", "denied"}} {
		if !f.auditHas(t, a[0], a[1]) {
			t.Errorf("no audit entry %s %s", a[0], a[1])
		}
	}
}
