package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/store"
)

// The partner API (/api/partner/...) is for OEM partners and resellers acting for their
// own customers, authenticated by a partner key ("Authorization: Bearer pk_...") and by
// nothing else: no session cookie, no account API key. A partner key, in turn, opens no
// other route. Every customer is looked up in the store by the partner's channel, so
// that an id of another partner's customer gets the same 404 as an id nobody has.

// partnerKeyCtx is the context key of the request's account.PartnerPrincipal.
type partnerKeyCtx struct{}

// errPartnerKey refuses a partner route's request without a valid partner key.
var errPartnerKey = &account.Error{Code: account.CodeUnauthenticated,
	Message: "the partner API needs a partner key that is valid and not revoked: Authorization: Bearer pk_..."}

// authenticatePartner finds the partner of a request by its partner key; it writes the
// refusal and returns false when there is none.
func (a *accountAPI) authenticatePartner(w http.ResponseWriter, r *http.Request) (account.PartnerPrincipal, bool) {
	scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		a.fail(w, r, errPartnerKey)
		return account.PartnerPrincipal{}, false
	}
	pp, err := a.svc.AuthenticatePartnerKey(r.Context(), strings.TrimSpace(key), clientIP(r))
	if errors.Is(err, account.ErrUnauthenticated) {
		err = errPartnerKey
	}
	if err != nil {
		a.fail(w, r, err)
		return account.PartnerPrincipal{}, false
	}
	return pp, true
}

type partnerHandler func(ps *commerce.PartnerScope, pp account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request)

// partnerRoute adapts a partner handler to the route table: the key must carry scope
// (checked before anything is looked up, so that a refusal says nothing of the ids asked
// about), and the handler gets the partner's scope of the sales side.
func partnerRoute(scope, action string, h partnerHandler) func(*accountAPI, http.ResponseWriter, *http.Request, account.Principal) {
	return func(a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
		pp, ok := r.Context().Value(partnerKeyCtx{}).(account.PartnerPrincipal)
		if !ok { // a route of the partner table without partnerKey auth: fail closed
			a.fail(w, r, errPartnerKey)
			return
		}
		if a.commerce == nil {
			WriteError(w, http.StatusNotFound, commerce.CodeNotFound, "this server does not serve the partner API")
			return
		}
		if scope != "" {
			if err := a.svc.PartnerAllows(r.Context(), pp, scope, action); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		ps, err := a.commerce.ForPartner(r.Context(), pp.PartnerID)
		if err != nil {
			a.failCommerce(w, r, err)
			return
		}
		h(ps, pp, a, w, r)
	}
}

func withPartner(ctx context.Context, pp account.PartnerPrincipal) context.Context {
	return context.WithValue(ctx, partnerKeyCtx{}, pp)
}

// JSON shapes (see api/openapi.yaml).

type partnerKeyJSON struct {
	ID         string     `json:"id"`
	PartnerID  string     `json:"partner_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func toPartnerKey(k account.PartnerKey) partnerKeyJSON {
	j := partnerKeyJSON{ID: k.ID, PartnerID: k.PartnerID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes,
		CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt}
	if j.Scopes == nil {
		j.Scopes = []string{}
	}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt
		j.LastUsedAt = &t
	}
	if k.Revoked() {
		t := k.RevokedAt
		j.RevokedAt = &t
	}
	return j
}

// customerJSON is an account as its partner sees it: the account with its channel.
type customerJSON struct {
	accountJSON
	Channel string `json:"channel"`
}

func toCustomer(a store.Account) customerJSON {
	return customerJSON{accountJSON: toAccount(a), Channel: a.Channel}
}

// Handlers.

type partnerSummaryJSON struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Region string `json:"region"`
}

func partnerMe(ps *commerce.PartnerScope, pp account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	p := ps.Partner()
	writeJSON(w, http.StatusOK, struct {
		Partner partnerSummaryJSON `json:"partner"`
		Key     partnerKeyJSON     `json:"key"`
	}{partnerSummaryJSON{p.ID, p.Kind, p.Name, p.Region}, toPartnerKey(pp.Key)})
}

func listCustomers(ps *commerce.PartnerScope, _ account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	as, err := ps.Accounts(r.Context())
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	out := struct {
		Customers []customerJSON `json:"customers"`
	}{Customers: make([]customerJSON, 0, len(as))}
	for _, c := range as {
		out.Customers = append(out.Customers, toCustomer(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func provisionCustomer(_ *commerce.PartnerScope, pp account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	var in struct {
		AccountType    string `json:"account_type"`
		AccountName    string `json:"account_name"`
		Country        string `json:"country"`
		BillingCountry string `json:"billing_country"`
		Owner          struct {
			Email       string `json:"email"`
			DisplayName string `json:"display_name"`
		} `json:"owner"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	got, err := a.svc.ProvisionAccount(r.Context(), pp, account.ProvisionInput{
		AccountType: in.AccountType, AccountName: in.AccountName, Country: in.Country, BillingCountry: in.BillingCountry,
		OwnerEmail: in.Owner.Email, OwnerName: in.Owner.DisplayName, SetPasswordURL: a.resetURL,
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Customer customerJSON `json:"customer"`
		Owner    userJSON     `json:"owner"`
		Invited  bool         `json:"invited"`
	}{toCustomer(got.Account), toUser(got.Owner), got.Invited})
}

func getCustomer(ps *commerce.PartnerScope, _ account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	c, err := ps.Account(r.Context(), r.PathValue("id"))
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Customer customerJSON `json:"customer"`
	}{toCustomer(c)})
}

func listCustomerUsers(_ *commerce.PartnerScope, pp account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	users, err := a.svc.PartnerUsers(r.Context(), pp, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Users []userJSON `json:"users"`
	}{Users: make([]userJSON, 0, len(users))}
	for _, u := range users {
		out.Users = append(out.Users, toUser(u))
	}
	writeJSON(w, http.StatusOK, out)
}

func addCustomerUser(_ *commerce.PartnerScope, pp account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email       string `json:"email"`
		DisplayName string `json:"display_name"`
		Role        string `json:"role"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	u, invited, err := a.svc.AddPartnerUser(r.Context(), pp, r.PathValue("id"), account.NewUserInput{
		Email: in.Email, DisplayName: in.DisplayName, Role: in.Role, SetPasswordURL: a.resetURL})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		User    userJSON `json:"user"`
		Invited bool     `json:"invited"`
	}{toUser(u), invited})
}

func removeCustomerUser(_ *commerce.PartnerScope, pp account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	if err := a.svc.RemovePartnerUser(r.Context(), pp, r.PathValue("id"), r.PathValue("user_id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func customerSubscription(ps *commerce.PartnerScope, _ account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	sub, ok, err := ps.Subscription(r.Context(), r.PathValue("id"))
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	out := struct {
		Subscription *subscriptionJSON `json:"subscription"`
	}{}
	if ok {
		out.Subscription = toSubscription(sub)
	}
	writeJSON(w, http.StatusOK, out)
}

func customerInvoices(ps *commerce.PartnerScope, _ account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	invs, err := ps.Invoices(r.Context(), r.PathValue("id"))
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

func customerCheckout(ps *commerce.PartnerScope, _ account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	in, ok := a.decodeCheckout(w, r)
	if !ok {
		return
	}
	rc, err := ps.Checkout(r.Context(), r.PathValue("id"), in)
	if err != nil {
		a.failCommerce(w, r, err)
		return
	}
	writeReceipt(w, rc)
}

func customerCancel(ps *commerce.PartnerScope, _ account.PartnerPrincipal, a *accountAPI, w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := ps.Cancel(r.Context(), id); err != nil {
		a.failCommerce(w, r, err)
		return
	}
	customerSubscription(ps, account.PartnerPrincipal{}, a, w, r)
}
