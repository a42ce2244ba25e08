package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/store"
)

// IdempotencyHeader carries a checkout's idempotency key: a retry with the same key
// charges at most once.
const IdempotencyHeader = "Idempotency-Key"

// defaultCurrency is the price book GET /api/plans shows without ?currency=.
const defaultCurrency = "USD"

// commerceRoute adapts a sales handler to the route table. Its handlers decode, call
// commerce.Service, and encode: the decisions are the service's and the policy's.
func commerceRoute(scope string, h func(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal)) func(*accountAPI, http.ResponseWriter, *http.Request, account.Principal) {
	return func(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
		if a.commerce == nil {
			WriteError(w, http.StatusNotFound, commerce.CodeNotFound, "this server does not sell subscriptions")
			return
		}
		if !p.Allows(scope) {
			a.fail(w, r, &account.Error{Code: account.CodeForbidden, Message: "this API key lacks the scope " + scope})
			return
		}
		h(a.commerce, a, w, r, p)
	}
}

// JSON shapes (see api/openapi.yaml).

type priceJSON struct {
	Plan        string `json:"plan"`
	Interval    string `json:"interval"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
}

type subscriptionJSON struct {
	ID             string    `json:"id"`
	Plan           string    `json:"plan"`
	Interval       string    `json:"interval"`
	AmountMinor    int64     `json:"amount_minor"`
	Currency       string    `json:"currency"`
	BillingCountry string    `json:"billing_country"`
	Channel        string    `json:"channel"`
	Status         string    `json:"status"`
	PeriodStart    time.Time `json:"period_start"`
	RenewsAt       time.Time `json:"renews_at"`
}

type orderJSON struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Plan        string `json:"plan"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Status      string `json:"status"`
}

type invoiceJSON struct {
	ID             string     `json:"id"`
	OrderID        string     `json:"order_id"`
	Seller         sellerJSON `json:"seller"`
	BuyerName      string     `json:"buyer_name"`
	BillingCountry string     `json:"billing_country"`
	Description    string     `json:"description"`
	AmountMinor    int64      `json:"amount_minor"`
	Currency       string     `json:"currency"`
	PeriodStart    time.Time  `json:"period_start"`
	PeriodEnd      time.Time  `json:"period_end"`
	IssuedAt       time.Time  `json:"issued_at"`
}

type sellerJSON struct {
	Channel string `json:"channel"`
	Name    string `json:"name"`
	Contact string `json:"contact,omitempty"`
}

type supportJSON struct {
	Channel string `json:"channel"`
	Name    string `json:"name"`
	Email   string `json:"email,omitempty"`
	URL     string `json:"url,omitempty"`
	Phone   string `json:"phone,omitempty"`
}

func toSubscription(s store.Subscription) *subscriptionJSON {
	return &subscriptionJSON{ID: s.ID, Plan: s.Plan, Interval: s.Interval, AmountMinor: s.AmountMinor, Currency: s.Currency,
		BillingCountry: s.BillingCountry, Channel: s.Channel, Status: s.Status, PeriodStart: s.PeriodStart, RenewsAt: s.PeriodEnd}
}

func toInvoice(v store.Invoice) invoiceJSON {
	return invoiceJSON{ID: v.ID, OrderID: v.OrderID, Seller: sellerJSON{Channel: v.SellerChannel, Name: v.SellerName, Contact: v.SellerContact},
		BuyerName: v.BuyerName, BillingCountry: v.BillingCountry, Description: v.Description, AmountMinor: v.AmountMinor,
		Currency: v.Currency, PeriodStart: v.PeriodStart, PeriodEnd: v.PeriodEnd, IssuedAt: v.IssuedAt}
}

// Handlers.

func listPlans(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	currency := r.URL.Query().Get("currency")
	if currency == "" {
		currency = defaultCurrency
	}
	book, err := svc.PlansFor(r.Context(), p.Account, currency)
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	out := struct {
		Channel  string      `json:"channel"`
		Currency string      `json:"currency"`
		Prices   []priceJSON `json:"prices"`
		// Payments: this server can charge a checkout (it has a payment provider).
		Payments bool `json:"payments"`
	}{Channel: book.Channel, Currency: book.Currency, Prices: make([]priceJSON, 0, len(book.Prices)), Payments: svc.TakesPayments()}
	for _, pr := range book.Prices {
		out.Prices = append(out.Prices, priceJSON{Plan: pr.Plan, Interval: pr.Interval, AmountMinor: pr.AmountMinor, Currency: book.Currency})
	}
	writeJSON(w, http.StatusOK, out)
}

func checkout(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	in, ok := a.decodeCheckout(w, r)
	if !ok {
		return
	}
	in.Online = true
	rc, err := svc.Checkout(r.Context(), commerce.Buyer{Account: p.Account, Actor: p.Actor(), Role: p.User.Role}, in)
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	writeReceipt(w, rc)
}

// decodeCheckout reads a checkout's body and idempotency key (Online is the caller's).
func (a *accountAPI) decodeCheckout(w http.ResponseWriter, r *http.Request) (commerce.CheckoutInput, bool) {
	var in struct {
		Kind           string `json:"kind"`
		Plan           string `json:"plan"`
		Interval       string `json:"interval"`
		Currency       string `json:"currency"`
		BillingCountry string `json:"billing_country"`
		PaymentToken   string `json:"payment_token"`
	}
	if !a.decode(w, r, &in) {
		return commerce.CheckoutInput{}, false
	}
	return commerce.CheckoutInput{
		Kind: in.Kind, Plan: in.Plan, Interval: in.Interval, Currency: in.Currency, BillingCountry: in.BillingCountry,
		IdempotencyKey: r.Header.Get(IdempotencyHeader), PaymentToken: in.PaymentToken,
	}, true
}

// writeReceipt answers a checkout: 201 with the invoice when it charged, 200 for a replay.
func writeReceipt(w http.ResponseWriter, rc commerce.Receipt) {
	out := struct {
		Order        orderJSON         `json:"order"`
		Subscription *subscriptionJSON `json:"subscription"`
		Invoice      *invoiceJSON      `json:"invoice,omitempty"`
		Replayed     bool              `json:"replayed"`
	}{Order: orderJSON{ID: rc.Order.ID, Kind: rc.Order.Kind, Plan: rc.Order.Plan, AmountMinor: rc.Order.AmountMinor,
		Currency: rc.Order.Currency, Status: rc.Order.Status}, Replayed: rc.Replayed}
	if rc.Subscription.ID != "" { // a replay after the subscription expired has none
		out.Subscription = toSubscription(rc.Subscription)
	}
	status := http.StatusOK
	if !rc.Replayed {
		inv := toInvoice(rc.Invoice)
		out.Invoice, status = &inv, http.StatusCreated
	}
	writeJSON(w, status, out)
}

func getSubscription(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	sub, ok, err := svc.Subscription(r.Context(), p.Account)
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	sup, err := svc.SupportContact(r.Context(), p.Account)
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	out := struct {
		Subscription *subscriptionJSON `json:"subscription"`
		Support      supportJSON       `json:"support"`
	}{Support: supportJSON{Channel: sup.Channel, Name: sup.Name, Email: sup.Email, URL: sup.URL, Phone: sup.Phone}}
	if ok {
		out.Subscription = toSubscription(sub)
	}
	writeJSON(w, http.StatusOK, out)
}

func listInvoices(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	invs, err := svc.Invoices(r.Context(), p.Account)
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	out := struct {
		Invoices []invoiceJSON `json:"invoices"`
	}{Invoices: make([]invoiceJSON, 0, len(invs))}
	for _, v := range invs {
		out.Invoices = append(out.Invoices, toInvoice(v))
	}
	writeJSON(w, http.StatusOK, out)
}

// commerceStatus maps the commerce package's error codes onto HTTP statuses; a policy
// refusal is 403 whatever its code.
var commerceStatus = map[string]int{
	commerce.CodeInvalidInput:        http.StatusBadRequest,
	commerce.CodeNotAnUpgrade:        http.StatusBadRequest,
	commerce.CodeNotFound:            http.StatusNotFound,
	commerce.CodeNoPrice:             http.StatusNotFound,
	commerce.CodeForbidden:           http.StatusForbidden,
	commerce.CodeSubscriptionExists:  http.StatusConflict,
	commerce.CodeNoSubscription:      http.StatusConflict,
	commerce.CodeIdempotencyMismatch: http.StatusConflict,
	commerce.CodeInProgress:          http.StatusConflict,
	commerce.CodeRenewalNotDue:       http.StatusConflict,
	commerce.CodePaymentDeclined:     http.StatusPaymentRequired,
	commerce.CodePaymentFailed:       http.StatusBadGateway,
	commerce.CodePaymentsUnavailable: http.StatusServiceUnavailable,
}

// failCommerce writes a commerce error: a policy refusal as 403 with its decision, a
// refusal by its status, anything else as a logged 500 without details.
func (a *accountAPI) failCommerce(w http.ResponseWriter, r *http.Request, err error) {
	var e *commerce.Error
	if !errors.As(err, &e) {
		a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		WriteError(w, http.StatusInternalServerError, commerce.CodeInternal, "something went wrong on the server")
		return
	}
	if e.Decision != nil {
		writeJSON(w, http.StatusForbidden, toPolicyRefusal(e.Code, e.Message, e.Decision))
		return
	}
	status, ok := commerceStatus[e.Code]
	if !ok {
		a.log.ErrorContext(r.Context(), "unmapped commerce error", "code", e.Code, "err", err)
		status = http.StatusInternalServerError
	}
	WriteError(w, status, e.Code, e.Message)
}
