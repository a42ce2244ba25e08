package httpapi

import (
	"net/http"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/store"
)

// The operator console's sales routes: partners and resellers (brand and support), price
// books, and subscriptions and orders across accounts. They read and write the store of
// the region of the node that answers.

type consoleHandler func(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal)

// consoleRoute serves h to operators only, as operatorRoute does the policy: anyone else
// signed in is forbidden, and an API key never is an operator.
func consoleRoute(h consoleHandler) func(*accountAPI, http.ResponseWriter, *http.Request, account.Principal) {
	return func(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
		if a.commerce == nil {
			WriteError(w, http.StatusNotFound, commerce.CodeNotFound, "this server does not sell subscriptions")
			return
		}
		if !a.isOperator(p) {
			WriteError(w, http.StatusForbidden, account.CodeForbidden, "only operators may use the operator console")
			return
		}
		h(a.commerce, a, w, r, p)
	}
}

func listPartners(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	ps, err := svc.Partners(r.Context())
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	out := struct {
		Partners []partnerRecordJSON `json:"partners"`
	}{Partners: make([]partnerRecordJSON, 0, len(ps))}
	for _, p := range ps {
		out.Partners = append(out.Partners, toPartnerRecord(p))
	}
	writeJSON(w, http.StatusOK, out)
}

type priceBookJSON struct {
	Channel  string      `json:"channel"`
	Currency string      `json:"currency"`
	Prices   []priceJSON `json:"prices"`
}

func toPriceBook(b commerce.PriceBook) priceBookJSON {
	j := priceBookJSON{Channel: b.Channel, Currency: b.Currency, Prices: make([]priceJSON, 0, len(b.Prices))}
	for _, pr := range b.Prices {
		j.Prices = append(j.Prices, priceJSON{Plan: pr.Plan, Interval: pr.Interval, AmountMinor: pr.AmountMinor, Currency: b.Currency})
	}
	return j
}

func listPriceBooks(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	bs, err := svc.PriceBooks(r.Context())
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	out := struct {
		PriceBooks []priceBookJSON `json:"price_books"`
	}{PriceBooks: make([]priceBookJSON, 0, len(bs))}
	for _, b := range bs {
		out.PriceBooks = append(out.PriceBooks, toPriceBook(b))
	}
	writeJSON(w, http.StatusOK, out)
}

func putPriceBook(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Prices []struct {
			Plan        string `json:"plan"`
			Interval    string `json:"interval"`
			AmountMinor int64  `json:"amount_minor"`
		} `json:"prices"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	b := commerce.PriceBook{Channel: r.PathValue("channel"), Currency: r.PathValue("currency")}
	for _, pr := range in.Prices {
		b.Prices = append(b.Prices, store.Price{Plan: pr.Plan, Interval: pr.Interval, AmountMinor: pr.AmountMinor})
	}
	if err := svc.PutPriceBookAs(r.Context(), p.Actor(), b); err != nil {
		a.failCommerce(w, r, err)
		return
	}
	stored, err := svc.PriceBook(r.Context(), b.Channel, b.Currency)
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toPriceBook(stored))
}

// consoleSubscriptionJSON is a subscription with its account, as the console lists it.
type consoleSubscriptionJSON struct {
	subscriptionJSON
	AccountID string    `json:"account_id"`
	CreatedAt time.Time `json:"created_at"`
}

func listAllSubscriptions(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	subs, err := svc.AllSubscriptions(r.Context(), r.URL.Query().Get("channel"))
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	out := struct {
		Subscriptions []consoleSubscriptionJSON `json:"subscriptions"`
	}{Subscriptions: make([]consoleSubscriptionJSON, 0, len(subs))}
	for _, s := range subs {
		out.Subscriptions = append(out.Subscriptions, consoleSubscriptionJSON{*toSubscription(s), s.AccountID, s.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

// consoleOrderJSON is an order with its account and channel, as the console lists it.
type consoleOrderJSON struct {
	orderJSON
	AccountID      string    `json:"account_id"`
	Channel        string    `json:"channel"`
	Interval       string    `json:"interval"`
	BillingCountry string    `json:"billing_country"`
	CreatedAt      time.Time `json:"created_at"`
}

func listAllOrders(svc *commerce.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	orders, err := svc.AllOrders(r.Context(), r.URL.Query().Get("channel"))
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	out := struct {
		Orders []consoleOrderJSON `json:"orders"`
	}{Orders: make([]consoleOrderJSON, 0, len(orders))}
	for _, o := range orders {
		out.Orders = append(out.Orders, consoleOrderJSON{
			orderJSON: orderJSON{ID: o.ID, Kind: o.Kind, Plan: o.Plan, AmountMinor: o.AmountMinor, Currency: o.Currency, Status: o.Status},
			AccountID: o.AccountID, Channel: o.Channel, Interval: o.Interval, BillingCountry: o.BillingCountry, CreatedAt: o.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}
