package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/meridian-video/meridian/internal/account"
)

// authMode says how a route finds who is calling.
type authMode int

const (
	// public routes need no principal.
	public authMode = iota
	// signedIn routes need a session cookie (plus the CSRF header on state-changing
	// methods) or an API key in "Authorization: Bearer mk_...".
	signedIn
	// partnerKey routes need a partner key in "Authorization: Bearer pk_..." and take
	// nothing else: no session, no account's API key (see partner.go).
	partnerKey
)

// apiRoute is one REST endpoint. apiRoutes is the only list of them: it registers the
// handlers, and a test checks each against api/openapi.yaml.
type apiRoute struct {
	Method string
	// Path is both the ServeMux pattern's path and the OpenAPI path ({name} segments
	// mean the same in both).
	Path   string
	Auth   authMode
	Handle func(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal)
}

func (rt apiRoute) pattern() string { return rt.Method + " " + rt.Path }

func apiRoutes() []apiRoute {
	return []apiRoute{
		{"POST", "/api/signup", public, (*accountAPI).signUp},
		{"POST", "/api/signin", public, (*accountAPI).signIn},
		{"POST", "/api/signout", signedIn, (*accountAPI).signOut},
		{"GET", "/api/me", signedIn, (*accountAPI).me},
		{"POST", "/api/password", signedIn, (*accountAPI).changePassword},
		{"POST", "/api/password/reset", public, (*accountAPI).requestReset},
		{"POST", "/api/password/reset/confirm", public, (*accountAPI).confirmReset},
		{"GET", "/api/keys", signedIn, (*accountAPI).listKeys},
		{"POST", "/api/keys", signedIn, (*accountAPI).createKey},
		{"DELETE", "/api/keys/{id}", signedIn, (*accountAPI).revokeKey},
		{"GET", "/api/plans", signedIn, commerceRoute(account.ScopeBillingRead, listPlans)},
		{"POST", "/api/checkout", signedIn, commerceRoute(account.ScopeBillingWrite, checkout)},
		{"GET", "/api/subscription", signedIn, commerceRoute(account.ScopeBillingRead, getSubscription)},
		{"GET", "/api/invoices", signedIn, commerceRoute(account.ScopeBillingRead, listInvoices)},
		{"GET", "/api/meetings", signedIn, meetingRoute((*meetingAPI).list)},
		{"POST", "/api/meetings", signedIn, meetingRoute((*meetingAPI).create)},
		{"GET", "/api/meetings/{id}", signedIn, meetingRoute((*meetingAPI).get)},
		{"PATCH", "/api/meetings/{id}", signedIn, meetingRoute((*meetingAPI).update)},
		{"POST", "/api/meetings/{id}/cancel", signedIn, meetingRoute((*meetingAPI).cancel)},
		{"POST", "/api/meetings/{id}/start", signedIn, meetingRoute((*meetingAPI).start)},
		{"POST", "/api/meetings/{id}/end", signedIn, meetingRoute((*meetingAPI).end)},
		{"POST", "/api/join", public, meetingRoute((*meetingAPI).join)},
		{"POST", "/api/join/lookup", public, meetingRoute((*meetingAPI).lookup)},
		{"GET", "/api/regions", public, (*accountAPI).listRegions},
		{"GET", "/api/account/regions", signedIn, (*accountAPI).accountRegions},
		{"PUT", "/api/account/regions", signedIn, (*accountAPI).setAccountRegions},
		{"GET", "/api/account/members", signedIn, (*accountAPI).listMembers},
		{"PATCH", "/api/account/members/{id}", signedIn, (*accountAPI).setMemberRole},
		{"DELETE", "/api/account/members/{id}", signedIn, (*accountAPI).removeMember},
		{"GET", "/api/account/invites", signedIn, (*accountAPI).listInvites},
		{"POST", "/api/account/invites", signedIn, (*accountAPI).invite},
		{"DELETE", "/api/account/invites/{id}", signedIn, (*accountAPI).revokeInvite},
		{"POST", "/api/account/owner", signedIn, (*accountAPI).transferOwnership},
		{"POST", "/api/invites/lookup", public, (*accountAPI).lookupInvite},
		{"POST", "/api/invites/accept", public, (*accountAPI).acceptInvite},
		{"GET", "/api/account/entry", signedIn, (*accountAPI).accountEntry},
		{"PUT", "/api/account/entry", signedIn, (*accountAPI).setAccountEntry},
		{"GET", "/api/policy", signedIn, operatorRoute(getPolicy)},
		{"POST", "/api/policy/validate", signedIn, operatorRoute(validatePolicy)},
		{"POST", "/api/policy/stage", signedIn, operatorRoute(stagePolicy)},
		{"POST", "/api/policy/activate", signedIn, operatorRoute(activatePolicy)},
		{"POST", "/api/policy/dry-run", signedIn, operatorRoute(dryRunPolicy)},
		{"GET", "/api/policy/decisions", signedIn, operatorRoute(listDecisions)},
		{"GET", "/api/brand", public, (*accountAPI).getBrand},
		{"GET", "/api/operator/partners", signedIn, consoleRoute(listPartners)},
		{"GET", "/api/operator/price-books", signedIn, consoleRoute(listPriceBooks)},
		{"PUT", "/api/operator/price-books/{channel}/{currency}", signedIn, consoleRoute(putPriceBook)},
		{"GET", "/api/operator/subscriptions", signedIn, consoleRoute(listAllSubscriptions)},
		{"GET", "/api/operator/orders", signedIn, consoleRoute(listAllOrders)},
		{"GET", "/api/operator/partners/{id}", signedIn, operatorOnly(getPartner)},
		{"PUT", "/api/operator/partners/{id}", signedIn, operatorOnly(putPartner)},
		{"GET", "/api/operator/partners/{id}/keys", signedIn, operatorOnly(listPartnerKeys)},
		{"POST", "/api/operator/partners/{id}/keys", signedIn, operatorOnly(createPartnerKey)},
		{"DELETE", "/api/operator/partners/{id}/keys/{key_id}", signedIn, operatorOnly(revokePartnerKey)},
		{"GET", "/api/partner", partnerKey, partnerRoute("", "partner.me", partnerMe)},
		{"GET", "/api/partner/customers", partnerKey, partnerRoute(account.ScopePartnerAccountsRead, "partner.customers_list", listCustomers)},
		{"POST", "/api/partner/customers", partnerKey, partnerRoute(account.ScopePartnerAccountsWrite, "partner.account_provision", provisionCustomer)},
		{"GET", "/api/partner/customers/{id}", partnerKey, partnerRoute(account.ScopePartnerAccountsRead, "partner.customer_get", getCustomer)},
		{"GET", "/api/partner/customers/{id}/users", partnerKey, partnerRoute(account.ScopePartnerAccountsRead, "partner.users_list", listCustomerUsers)},
		{"POST", "/api/partner/customers/{id}/users", partnerKey, partnerRoute(account.ScopePartnerAccountsWrite, "partner.user_add", addCustomerUser)},
		{"DELETE", "/api/partner/customers/{id}/users/{user_id}", partnerKey, partnerRoute(account.ScopePartnerAccountsWrite, "partner.user_remove", removeCustomerUser)},
		{"GET", "/api/partner/customers/{id}/subscription", partnerKey, partnerRoute(account.ScopePartnerBillingRead, "partner.subscription_get", customerSubscription)},
		{"GET", "/api/partner/customers/{id}/invoices", partnerKey, partnerRoute(account.ScopePartnerBillingRead, "partner.invoices_list", customerInvoices)},
		{"POST", "/api/partner/customers/{id}/checkout", partnerKey, partnerRoute(account.ScopePartnerBillingWrite, "partner.checkout", customerCheckout)},
		{"POST", "/api/partner/customers/{id}/cancel", partnerKey, partnerRoute(account.ScopePartnerBillingWrite, "partner.cancel", customerCancel)},
	}
}

// registerAPI adds every route of apiRoutes to mux, and under /api/ a JSON 404 for
// unknown paths and a JSON 405 (with Allow) for known paths with another method.
func registerAPI(mux *http.ServeMux, a *accountAPI) {
	routes := apiRoutes()
	byPath := http.NewServeMux() // path patterns without methods, to answer 405
	methods := map[string][]string{}
	for _, rt := range routes {
		mux.Handle(rt.pattern(), a.wrap(rt))
		if _, ok := methods[rt.Path]; !ok {
			byPath.Handle(rt.Path, http.NotFoundHandler())
		}
		methods[rt.Path] = append(methods[rt.Path], rt.Method)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		if _, pat := byPath.Handler(r); pat != "" {
			allow := slices.Clone(methods[pat])
			if slices.Contains(allow, "GET") {
				allow = append(allow, "HEAD")
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+pat)
			return
		}
		WriteError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
}
