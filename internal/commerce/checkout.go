package commerce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

// Store is what the Service needs of the persistence layer (*store.Store has it all).
type Store interface {
	Region() string
	GetAccountInChannel(ctx context.Context, channel, id string) (store.Account, error)
	ListAccountsInChannel(ctx context.Context, channel string, limit int) ([]store.Account, error)
	GetPartner(ctx context.Context, id string) (store.Partner, error)
	PutPartner(ctx context.Context, p store.Partner) (store.Partner, error)
	ListPartners(ctx context.Context) ([]store.Partner, error)
	GetPriceBook(ctx context.Context, channel, currency string) (store.PriceBook, error)
	PutPriceBook(ctx context.Context, b store.PriceBook) (store.PriceBook, error)
	ListPriceBooks(ctx context.Context) ([]store.PriceBook, error)
	ListSubscriptions(ctx context.Context, channel string, limit int) ([]store.Subscription, error)
	ListChannelOrders(ctx context.Context, channel string, limit int) ([]store.Order, error)
	CreateOrder(ctx context.Context, o store.Order) (store.Order, error)
	GetOrderByKey(ctx context.Context, accountID, key string) (store.Order, error)
	ClaimOrder(ctx context.Context, id string, staleBefore, at time.Time) error
	SetOrderStatus(ctx context.Context, id, status, chargeID, declineCode string, at time.Time) error
	RecordPayment(ctx context.Context, p store.Payment) (store.Subscription, store.Invoice, error)
	GetCurrentSubscription(ctx context.Context, accountID string) (store.Subscription, error)
	ListSubscriptionsInChannel(ctx context.Context, channel string, limit int) ([]store.Subscription, error)
	SetSubscriptionStatus(ctx context.Context, id, status string, at time.Time) error
	ExpireSubscriptions(ctx context.Context, now time.Time, limit int) ([]store.Subscription, error)
	ListInvoices(ctx context.Context, accountID string, limit int) ([]store.Invoice, error)
	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
}

// Checkout kinds.
const (
	KindNew     = "new"
	KindUpgrade = "upgrade"
	KindRenew   = "renew"
)

// Bounds.
const (
	maxKeyLength   = 128
	maxTokenLength = 256
	// listLimit bounds the invoices and partner lists one call returns.
	listLimit = 200
	// staleAfter is how long an order may stay pending before a retry with its key may
	// charge it again (its process died mid-charge): the provider's idempotency key
	// makes that charge the first one.
	staleAfter = 5 * time.Minute
	// RenewalWindow is how long before its renewal date a subscription may be renewed
	// (and after it, until it expires), so that a period is paid for once.
	RenewalWindow = 14 * 24 * time.Hour
)

// Options tune a Service.
type Options struct {
	Now func() time.Time // time.Now if nil
	Log *slog.Logger     // slog.Default() if nil
	// Policy holds the running jurisdiction policy; a Holder of no rules if nil.
	Policy *policy.Holder
	// Payments charges; nil refuses every checkout with ErrPaymentsUnavailable (fail
	// closed: no sale is recorded that nobody charged).
	Payments PaymentProvider
	// Operator is the seller and support contact of direct accounts.
	Operator Support
	// Audit is the audit trail, shared with the other services; one of the Service's own
	// over the store if nil.
	Audit *auditlog.Log
	// Decisions records the policy's decisions with their facts; nil records none.
	Decisions DecisionLog
}

// DecisionLog records jurisdiction policy decisions with the facts they were made from
// (*decisionlog.Log is one), for the dry run's replay.
type DecisionLog interface {
	Record(ctx context.Context, m decisionlog.Made)
}

// Service is the sales domain. It is safe for concurrent use.
type Service struct {
	store    Store
	now      func() time.Time
	log      *slog.Logger
	policy   *policy.Holder
	payments PaymentProvider
	operator Support
	audit    *auditlog.Log
	brands   brandCache
	decided  DecisionLog
}

// New returns a Service over st.
func New(st Store, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Policy == nil {
		o.Policy = policy.NewHolder(nil)
	}
	if o.Audit == nil {
		o.Audit = auditlog.New(st, auditlog.Options{Now: o.Now, Log: o.Log})
	}
	if o.Operator.Channel == "" {
		o.Operator.Channel = store.ChannelDirect
	}
	return &Service{store: st, now: o.Now, log: o.Log, policy: o.Policy, payments: o.Payments,
		operator: o.Operator, audit: o.Audit, decided: o.Decisions}
}

// TakesPayments tells whether this Service can charge: false without a payment provider,
// when every checkout that costs something is ErrPaymentsUnavailable. The browser app asks
// it to say so before anyone fills in a form.
func (s *Service) TakesPayments() bool { return s.payments != nil }

// Buyer is who checks out: an account, and who acts for it.
type Buyer struct {
	Account store.Account
	// Actor names who acted in the audit trail (a user id, "apikey:<id>", "partner:<id>").
	Actor string
	// Role is the acting user's role; a member may not buy. Empty for an API key or a
	// partner, whose scopes the caller checked.
	Role string
}

// CheckoutInput is one checkout.
type CheckoutInput struct {
	Kind string // KindNew, KindUpgrade or KindRenew
	// Plan to buy or upgrade to; for a renewal empty or the subscription's.
	Plan string
	// Interval is month (if empty) or year, for a new subscription; an upgrade and a
	// renewal keep the subscription's.
	Interval string
	// Currency (ISO 4217) of a new subscription; an upgrade and a renewal keep the
	// subscription's.
	Currency string
	// BillingCountry is the billing address's ISO 3166-1 alpha-2 code: what the policy
	// decides by.
	BillingCountry string
	// IdempotencyKey identifies the checkout: a retry with the same key charges at most
	// once and answers as the first did.
	IdempotencyKey string
	// PaymentToken is the payment method as the provider tokenized it.
	PaymentToken string
	// Online is true for online self-service, false when a sales person or a partner
	// does it (the policy's "assisted").
	Online bool
}

// Receipt is what a paid checkout recorded.
type Receipt struct {
	Order        store.Order
	Subscription store.Subscription
	// Invoice is the checkout's invoice; zero when the answer is a replay of an earlier
	// request with the same key (list the invoices to see it).
	Invoice store.Invoice
	// Replayed: the idempotency key had been paid already; nothing was charged now.
	Replayed bool
}

// Checkout sells a new subscription, an upgrade or a renewal to b's account, if the
// jurisdiction policy allows it now: the order is recorded, charged through the payment
// provider and, if paid, the subscription, the account's plan and the invoice are stored
// together. A policy refusal is an *Error with the Decision.
//
// Pricing: a new subscription and a renewal are charged one interval's price in full from
// the channel's price book. An upgrade is prorated by time: it charges the new plan's
// price less the subscription's, for the share of the current period still to run (to
// the second, rounded up to a whole minor unit); the renewal date stays, and the next
// renewal charges the new plan in full. A renewal extends the period from its end, and is
// open from RenewalWindow before it.
//
// One checkout of an account is charged at a time: another while one is pending is
// ErrInProgress, so that two at once cannot both sell it a subscription.
func (s *Service) Checkout(ctx context.Context, b Buyer, in CheckoutInput) (Receipt, error) {
	if b.Role == account.RoleMember {
		return Receipt{}, ErrForbidden
	}
	if err := checkInput(&in); err != nil {
		return Receipt{}, err
	}
	a := b.Account
	ch, err := s.channelOf(ctx, a)
	if err != nil {
		return Receipt{}, err
	}
	now := s.now()
	// A failed order (its charge could not be made), or one pending too long, is charged
	// again under its own id, so that the provider, too, sees one charge.
	var retry *store.Order
	if o, err := s.store.GetOrderByKey(ctx, a.ID, in.IdempotencyKey); err == nil {
		if r, done, err := s.replay(ctx, o, in, now); done {
			return r, err
		}
		retry = &o
	} else if !errors.Is(err, store.ErrNotFound) {
		return Receipt{}, fmt.Errorf("commerce: %w", err)
	}
	cur, err := s.store.GetCurrentSubscription(ctx, a.ID)
	hasCur := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Receipt{}, fmt.Errorf("commerce: %w", err)
	}
	q := policy.QBuy
	switch in.Kind {
	case KindNew:
		if hasCur {
			return Receipt{}, ErrSubscriptionExists
		}
	case KindUpgrade, KindRenew:
		if !hasCur {
			return Receipt{}, ErrNoSubscription
		}
		in.Interval, in.Currency = cur.Interval, cur.Currency
		q = policy.QUpgrade
		if in.Kind == KindRenew {
			q = policy.QRenew
			if in.Plan == "" {
				in.Plan = cur.Plan
			}
			if in.Plan != cur.Plan {
				return Receipt{}, invalid("a renewal renews the subscription's plan " + cur.Plan + "; upgrade to change it")
			}
			if cur.PeriodEnd.Sub(now) > RenewalWindow {
				return Receipt{}, &Error{Code: CodeRenewalNotDue, Message: fmt.Sprintf(
					"the subscription renews on %s; it can be renewed from %s", cur.PeriodEnd.Format(time.DateOnly),
					cur.PeriodEnd.Add(-RenewalWindow).Format(time.DateOnly))}
			}
		} else if rank(in.Plan) <= rank(cur.Plan) {
			return Receipt{}, ErrNotAnUpgrade
		}
	}
	facts := policy.Facts{AccountType: a.Type, BillingCountry: in.BillingCountry, Plan: in.Plan,
		Channel: ch.Kind, Online: in.Online, HomeRegion: s.store.Region()}
	if ch.Partner != nil {
		facts.Partner = ch.Partner.ID
	}
	action := "commerce.checkout." + in.Kind
	d := policy.Decide(s.policy.Policy(), q, facts, now)
	if s.decided != nil {
		s.decided.Record(ctx, decisionlog.Made{Question: q, Subject: a.ID, Facts: facts, Decision: d, At: now})
	}
	if !d.Allowed {
		s.record(ctx, b.Actor, action, a.ID, d.Code, fmt.Sprintf("plan=%s billing_country=%s channel=%s online=%t rule=%s policy=%s",
			in.Plan, in.BillingCountry, ch.ID(), in.Online, d.RuleID, d.PolicyVersion))
		return Receipt{}, refused(d)
	}
	book, err := s.PriceBook(ctx, ch.ID(), in.Currency)
	if err != nil {
		return Receipt{}, err
	}
	price, err := book.Price(in.Plan, in.Interval)
	if err != nil {
		return Receipt{}, err
	}
	sub := store.Subscription{AccountID: a.ID, Channel: ch.ID(), Plan: in.Plan, Interval: in.Interval,
		Currency: in.Currency, AmountMinor: price.AmountMinor, BillingCountry: in.BillingCountry,
		Status: store.SubscriptionActive, PeriodStart: now, PeriodEnd: addInterval(now, in.Interval)}
	amount := price.AmountMinor
	switch in.Kind {
	case KindUpgrade:
		sub.ID, sub.CreatedAt, sub.PeriodStart, sub.PeriodEnd = cur.ID, cur.CreatedAt, cur.PeriodStart, cur.PeriodEnd
		amount = prorate(price.AmountMinor-cur.AmountMinor, cur.PeriodEnd.Sub(now), cur.PeriodEnd.Sub(cur.PeriodStart))
	case KindRenew:
		start := cur.PeriodEnd
		if start.Before(now) {
			start = now
		}
		sub.ID, sub.CreatedAt, sub.PeriodStart, sub.PeriodEnd = cur.ID, cur.CreatedAt, start, addInterval(start, in.Interval)
	}
	sl := sale{buyer: b, ch: ch, in: in, sub: sub, cur: cur, hadCur: hasCur, action: action, decision: d}
	if retry != nil {
		if err := s.store.ClaimOrder(ctx, retry.ID, now.Add(-staleAfter), now); err != nil {
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
				return Receipt{}, ErrInProgress
			}
			return Receipt{}, fmt.Errorf("commerce: %w", err)
		}
		return s.chargeReserved(ctx, *retry, sl)
	}
	o, err := s.store.CreateOrder(ctx, store.Order{AccountID: a.ID, IdempotencyKey: in.IdempotencyKey, Kind: in.Kind,
		Channel: ch.ID(), Plan: in.Plan, Interval: in.Interval, Currency: in.Currency, AmountMinor: amount,
		BillingCountry: in.BillingCountry, Status: store.OrderPending, CreatedAt: now})
	if errors.Is(err, store.ErrConflict) {
		// The same key, at the same moment, from another request: answer as it does. Or
		// another checkout of the account is being charged: one at a time.
		if o, err := s.store.GetOrderByKey(ctx, a.ID, in.IdempotencyKey); err == nil {
			if r, done, err := s.replay(ctx, o, in, now); done {
				return r, err
			}
		}
		return Receipt{}, ErrInProgress
	}
	if err != nil {
		return Receipt{}, fmt.Errorf("commerce: %w", err)
	}
	return s.chargeReserved(ctx, o, sl)
}

// sale is a checkout the policy allowed, priced: what charging its order needs.
type sale struct {
	buyer Buyer
	ch    Channel
	in    CheckoutInput
	// sub is the subscription as it will be once paid; cur the current one it was
	// priced against (hadCur: there was one).
	sub, cur store.Subscription
	hadCur   bool
	action   string
	decision policy.Decision
}

// chargeReserved charges order o, now the account's one pending order, unless the
// subscription it was priced against changed before o was reserved (a checkout that
// finished meanwhile): then o is released as failed, uncharged, and a retry decides again.
func (s *Service) chargeReserved(ctx context.Context, o store.Order, sl sale) (Receipt, error) {
	cur := sl.cur
	latest, err := s.store.GetCurrentSubscription(ctx, o.AccountID)
	hasLatest := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Receipt{}, errors.Join(fmt.Errorf("commerce: %w", err), s.store.SetOrderStatus(ctx, o.ID, store.OrderFailed, "", "", s.now()))
	}
	if hasLatest != sl.hadCur || (hasLatest && (latest.ID != cur.ID || latest.Plan != cur.Plan || latest.Status != cur.Status ||
		!latest.PeriodEnd.Equal(cur.PeriodEnd) || latest.AmountMinor != cur.AmountMinor)) {
		if err := s.store.SetOrderStatus(ctx, o.ID, store.OrderFailed, "", "", s.now()); err != nil {
			return Receipt{}, fmt.Errorf("commerce: %w", err)
		}
		if sl.in.Kind == KindNew && hasLatest {
			return Receipt{}, ErrSubscriptionExists
		}
		return Receipt{}, ErrInProgress
	}
	return s.charge(ctx, o, sl)
}

// replay answers a checkout whose key has an order already. done is false for a failed
// order and a stale pending one, whose charge may be tried again.
func (s *Service) replay(ctx context.Context, o store.Order, in CheckoutInput, now time.Time) (Receipt, bool, error) {
	if o.Kind != in.Kind || (in.Plan != "" && o.Plan != in.Plan) || o.BillingCountry != in.BillingCountry ||
		(in.Kind == KindNew && (o.Interval != in.Interval || o.Currency != in.Currency)) {
		return Receipt{}, true, ErrIdempotencyMismatch
	}
	switch o.Status {
	case store.OrderPaid:
		sub, err := s.store.GetCurrentSubscription(ctx, o.AccountID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Receipt{}, true, fmt.Errorf("commerce: %w", err)
		}
		return Receipt{Order: o, Subscription: sub, Replayed: true}, true, nil
	case store.OrderDeclined:
		return Receipt{}, true, ErrPaymentDeclined
	case store.OrderPending:
		if !o.UpdatedAt.Before(now.Add(-staleAfter)) {
			return Receipt{}, true, ErrInProgress
		}
	}
	return Receipt{}, false, nil
}

// charge charges a recorded order and records the outcome.
func (s *Service) charge(ctx context.Context, o store.Order, sl sale) (Receipt, error) {
	b, in, action := sl.buyer, sl.in, sl.action
	var res ChargeResult
	if o.AmountMinor > 0 {
		if s.payments == nil {
			_ = s.store.SetOrderStatus(ctx, o.ID, store.OrderFailed, "", "", s.now())
			return Receipt{}, ErrPaymentsUnavailable
		}
		var err error
		res, err = s.payments.Charge(ctx, ChargeRequest{IdempotencyKey: o.ID, AccountID: o.AccountID, AmountMinor: o.AmountMinor,
			Currency: o.Currency, PaymentToken: in.PaymentToken, Description: describe(o)})
		if err != nil {
			s.log.WarnContext(ctx, "charge failed", "order", o.ID, "err", err)
			if err := s.store.SetOrderStatus(context.WithoutCancel(ctx), o.ID, store.OrderFailed, "", "", s.now()); err != nil {
				s.log.ErrorContext(ctx, "order left pending", "order", o.ID, "err", err)
			}
			s.record(ctx, b.Actor, action, o.AccountID, CodePaymentFailed, "order="+o.ID)
			return Receipt{}, ErrPaymentFailed
		}
	}
	// What follows is recorded even if the request is cancelled now: the money moved.
	ctx = context.WithoutCancel(ctx)
	if res.Declined {
		if err := s.store.SetOrderStatus(ctx, o.ID, store.OrderDeclined, res.ChargeID, res.DeclineCode, s.now()); err != nil {
			return Receipt{}, fmt.Errorf("commerce: %w", err)
		}
		if in.Kind == KindRenew && sl.cur.Status == store.SubscriptionActive {
			if err := s.store.SetSubscriptionStatus(ctx, sl.cur.ID, store.SubscriptionPastDue, s.now()); err != nil {
				return Receipt{}, fmt.Errorf("commerce: %w", err)
			}
		}
		s.record(ctx, b.Actor, action, o.AccountID, CodePaymentDeclined, "order="+o.ID+" decline="+res.DeclineCode)
		return Receipt{}, ErrPaymentDeclined
	}
	seller := s.seller(sl.ch)
	inv := store.Invoice{SellerChannel: seller.Channel, SellerName: seller.Name, SellerContact: seller.String(),
		BuyerName: b.Account.Name, BillingCountry: o.BillingCountry, Description: describe(o), Currency: o.Currency,
		AmountMinor: o.AmountMinor, PeriodStart: sl.sub.PeriodStart, PeriodEnd: sl.sub.PeriodEnd}
	if in.Kind == KindUpgrade {
		inv.PeriodStart = s.now()
	}
	stored, invoice, err := s.store.RecordPayment(ctx, store.Payment{OrderID: o.ID, ChargeID: res.ChargeID,
		Subscription: sl.sub, Invoice: inv, At: s.now()})
	if err != nil {
		s.log.ErrorContext(ctx, "charged but not recorded", "order", o.ID, "charge", res.ChargeID, "err", err)
		return Receipt{}, fmt.Errorf("commerce: order %s charged as %s: %w", o.ID, res.ChargeID, err)
	}
	o.Status, o.ChargeID, o.SubscriptionID = store.OrderPaid, res.ChargeID, stored.ID
	s.record(ctx, b.Actor, action, o.AccountID, "ok", fmt.Sprintf("order=%s plan=%s amount=%d %s seller=%s rule=%s policy=%s",
		o.ID, o.Plan, o.AmountMinor, o.Currency, seller.Channel, sl.decision.RuleID, sl.decision.PolicyVersion))
	return Receipt{Order: o, Subscription: stored, Invoice: invoice}, nil
}

// checkInput refuses malformed input and fills in the defaults.
func checkInput(in *CheckoutInput) error {
	switch in.Kind {
	case KindNew, KindUpgrade:
		if rank(in.Plan) <= 0 {
			return invalid("plan must be pro, business or enterprise")
		}
	case KindRenew:
		if in.Plan != "" && rank(in.Plan) <= 0 {
			return invalid("plan must be pro, business or enterprise")
		}
	default:
		return invalid("kind must be new, upgrade or renew")
	}
	if in.Interval == "" {
		in.Interval = store.IntervalMonth
	}
	switch {
	case in.Interval != store.IntervalMonth && in.Interval != store.IntervalYear:
		return invalid("interval must be month or year")
	case in.Kind == KindNew && !isCurrency(in.Currency):
		return invalid("currency must be an ISO 4217 code of three capital letters, e.g. USD")
	case !isCountry(in.BillingCountry):
		return invalid("billing_country must be an ISO 3166-1 alpha-2 code of two capital letters, e.g. US")
	case !printable(in.IdempotencyKey, maxKeyLength):
		return invalid(fmt.Sprintf("an idempotency key of 1 to %d printable characters is required", maxKeyLength))
	case !printable(in.PaymentToken, maxTokenLength):
		return invalid(fmt.Sprintf("a payment token of 1 to %d printable characters is required", maxTokenLength))
	}
	return nil
}

func printable(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' {
			return false
		}
	}
	return true
}

// addInterval is the end of a period of one interval from t: the same day of the next
// month or year (normalized as time.AddDate does, so 31 January + 1 month is 3 March).
func addInterval(t time.Time, interval string) time.Time {
	if interval == store.IntervalYear {
		return t.AddDate(1, 0, 0)
	}
	return t.AddDate(0, 1, 0)
}

// prorate is diff × left / total, rounded up to a whole minor unit, and never below zero.
// Seconds keep the product within int64 for any price below 10^11 minor units over a
// period of up to a year.
func prorate(diff int64, left, total time.Duration) int64 {
	l, t := int64(left/time.Second), int64(total/time.Second)
	if diff <= 0 || l <= 0 || t <= 0 {
		return 0
	}
	if l > t {
		l = t
	}
	return (diff*l + t - 1) / t
}

func describe(o store.Order) string {
	switch o.Kind {
	case KindUpgrade:
		return fmt.Sprintf("Upgrade to %s (%sly), prorated", o.Plan, o.Interval)
	case KindRenew:
		return fmt.Sprintf("Renewal of %s (%sly)", o.Plan, o.Interval)
	}
	return fmt.Sprintf("Subscription to %s (%sly)", o.Plan, o.Interval)
}

func (s *Service) record(ctx context.Context, actor, action, subject, outcome, detail string) {
	s.audit.Write(ctx, store.AuditEntry{At: s.now(), Actor: actor, Action: action, Subject: subject, Outcome: outcome, Detail: detail})
}
