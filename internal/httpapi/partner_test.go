package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

// partnerFixture serves New's handler with real account and commerce services over a
// real SQLite store (region local), the 2020 China example policy (whose partners
// lotus-bridge and jade-harbor are OEMs), a test payment provider, a fixed clock, and
// ops@example.com as the operator, signed in as ops.
type partnerFixture struct {
	*apiFixture
	pay   *commerce.TestProvider
	clock *testClock
	ops   session
}

const (
	partnerA = "lotus-bridge"
	partnerB = "jade-harbor"
)

func newPartnerAPI(t *testing.T, limits account.Limits) *partnerFixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "local"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	data, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load("china-2020.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	holder := policy.NewHolder(pol)
	clock := &testClock{}
	clock.set("2020-09-01")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	audit := auditlog.New(st, auditlog.Options{Log: log, Now: clock.Now})
	f := &partnerFixture{apiFixture: &apiFixture{st: st, mail: &recordingSender{}}, pay: &commerce.TestProvider{}, clock: clock}
	accounts, err := account.New(st, f.mail, account.Options{Log: log, Audit: audit, Now: clock.Now, Policy: holder, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accounts.Close(context.Background()) })
	sales := commerce.New(st, commerce.Options{Log: log, Audit: audit, Now: clock.Now, Policy: holder, Payments: f.pay,
		Operator: commerce.Support{Name: "Meridian", SupportContact: store.SupportContact{Email: "support@meridian.example"}}})
	f.srv = httptest.NewServer(New(Deps{Log: log, Accounts: accounts, Commerce: sales, ResetURL: "https://meet.example/reset",
		Operators: []string{"ops@example.com"}}))
	t.Cleanup(f.srv.Close)

	f.ops = f.signUpAs(t, "ops@example.com")
	for _, id := range []string{partnerA, partnerB} {
		r := f.call(t, "PUT", "/api/operator/partners/"+id,
			fmt.Sprintf(`{"kind":"oem","name":"%s Ltd","brand":{"name":"%s Meet"},"support":{"email":"help@%s.example"},"jurisdictions":["CN"]}`, id, id, id),
			f.ops.auth(true)...)
		if r.status != http.StatusOK {
			t.Fatalf("put partner %s: %d %s", id, r.status, r.body)
		}
		if err := sales.PutPriceBook(t.Context(), commerce.PriceBook{Channel: id, Currency: "USD",
			Prices: []store.Price{{Plan: "pro", Interval: store.IntervalMonth, AmountMinor: 1200}}}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *partnerFixture) signUpAs(t *testing.T, email string) session {
	t.Helper()
	r := f.call(t, "POST", "/api/signup", fmt.Sprintf(
		`{"account_type":"business","account_name":"Direct Co","email":%q,"display_name":"Op","password":"correct horse battery","country":"US"}`, email))
	if r.status != http.StatusCreated {
		t.Fatalf("sign-up %s: %d %s", email, r.status, r.body)
	}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	c := r.cookie(t)
	return session{cookie: c.Name + "=" + c.Value, csrf: out.CSRFToken}
}

// partnerKey has the operator make a key of partner with scopes; it returns the key's id
// and the whole key.
func (f *partnerFixture) partnerKey(t *testing.T, partner string, scopes ...string) (id, key string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": "crm", "scopes": scopes})
	r := f.call(t, "POST", "/api/operator/partners/"+partner+"/keys", string(body), f.ops.auth(true)...)
	if r.status != http.StatusCreated {
		t.Fatalf("create partner key: %d %s", r.status, r.body)
	}
	var out struct {
		Key    struct{ ID, Prefix string }
		Secret string
	}
	if err := json.Unmarshal(r.body, &out); err != nil || !strings.HasPrefix(out.Secret, "pk_"+out.Key.Prefix+"_") {
		t.Fatalf("create partner key body %s: %v", r.body, err)
	}
	return out.Key.ID, out.Secret
}

var allPartnerScopes = []string{account.ScopePartnerAccountsRead, account.ScopePartnerAccountsWrite,
	account.ScopePartnerBillingRead, account.ScopePartnerBillingWrite}

func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }

// provision opens a US business customer with key and returns its id and its owner's id.
func (f *partnerFixture) provision(t *testing.T, key, email string) (accountID, ownerID string) {
	t.Helper()
	r := f.call(t, "POST", "/api/partner/customers", fmt.Sprintf(
		`{"account_type":"business","account_name":"Customer of %s","country":"US","owner":{"email":%q,"display_name":"Owner"}}`, email, email),
		bearer(key)...)
	if r.status != http.StatusCreated {
		t.Fatalf("provision %s: %d %s", email, r.status, r.body)
	}
	var out struct {
		Customer struct{ ID, Channel, Plan string }
		Owner    struct{ ID, Role string }
		Invited  bool
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.Customer.ID == "" || out.Owner.Role != "owner" || !out.Invited {
		t.Fatalf("provision body %s: %v", r.body, err)
	}
	return out.Customer.ID, out.Owner.ID
}

var tokenInLink = regexp.MustCompile(`https://meet\.example/reset\?token=([A-Z0-9]+)`)

func TestPartnerProvisionsCustomersAndTheirUsers(t *testing.T) {
	f := newPartnerAPI(t, account.Limits{})
	_, key := f.partnerKey(t, partnerA, allPartnerScopes...)

	id, ownerID := f.provision(t, key, "owner@customer.example")
	r := f.call(t, "GET", "/api/partner/customers/"+id, "", bearer(key)...)
	var got struct {
		Customer struct{ ID, Channel, Plan, Type, Country, BillingCountry string }
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got.Customer.Channel != partnerA ||
		got.Customer.Plan != "free" || got.Customer.Country != "US" {
		t.Fatalf("get customer: %d %s", r.status, r.body)
	}

	// The owner is mailed a link that sets their password; then they sign in.
	msgs := f.mail.wait(t, 1)
	m := msgs[len(msgs)-1]
	tok := tokenInLink.FindStringSubmatch(m.Body)
	if m.To != "owner@customer.example" || !strings.Contains(m.Subject, "lotus-bridge Meet") || tok == nil {
		t.Fatalf("invitation %+v", m)
	}
	if r := f.call(t, "POST", "/api/signin", `{"email":"owner@customer.example","password":"correct horse battery"}`); r.status != http.StatusUnauthorized {
		t.Fatalf("sign-in before the password is set: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/password/reset/confirm", fmt.Sprintf(`{"token":%q,"new_password":"correct horse battery"}`, tok[1])); r.status != http.StatusNoContent {
		t.Fatalf("set password: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/signin", `{"email":"owner@customer.example","password":"correct horse battery"}`); r.status != http.StatusOK {
		t.Fatalf("sign-in: %d %s", r.status, r.body)
	}

	// Users: add a member (invited too), list, remove; the owner stays.
	r = f.call(t, "POST", "/api/partner/customers/"+id+"/users", `{"email":"member@customer.example","display_name":"Mem","role":"member"}`, bearer(key)...)
	var added struct {
		User    struct{ ID, Role, Email string }
		Invited bool
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &added) != nil || added.User.Role != "member" || !added.Invited {
		t.Fatalf("add user: %d %s", r.status, r.body)
	}
	if msgs := f.mail.wait(t, 2); msgs[1].To != "member@customer.example" {
		t.Fatalf("member's invitation to %s", msgs[1].To)
	}
	if r := f.call(t, "POST", "/api/partner/customers/"+id+"/users", `{"email":"x@customer.example","display_name":"X","role":"owner"}`, bearer(key)...); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
		t.Fatalf("add a second owner: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/partner/customers/"+id+"/users", `{"email":"member@customer.example","display_name":"Again","role":"admin"}`, bearer(key)...); r.status != http.StatusConflict || r.code(t) != "email_taken" {
		t.Fatalf("add a taken address: %d %s", r.status, r.body)
	}
	if n := f.userCount(t, key, id); n != 2 {
		t.Fatalf("%d users, want 2", n)
	}
	if r := f.call(t, "DELETE", "/api/partner/customers/"+id+"/users/"+ownerID, "", bearer(key)...); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
		t.Fatalf("remove the owner: %d %s", r.status, r.body)
	}
	if r := f.call(t, "DELETE", "/api/partner/customers/"+id+"/users/"+added.User.ID, "", bearer(key)...); r.status != http.StatusNoContent {
		t.Fatalf("remove member: %d %s", r.status, r.body)
	}
	if n := f.userCount(t, key, id); n != 1 {
		t.Fatalf("%d users after removal, want 1", n)
	}
}

func (f *partnerFixture) userCount(t *testing.T, key, id string) int {
	t.Helper()
	r := f.call(t, "GET", "/api/partner/customers/"+id+"/users", "", bearer(key)...)
	var out struct{ Users []struct{ ID string } }
	if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("list users: %d %s", r.status, r.body)
	}
	return len(out.Users)
}

// Provisioning is decided by the jurisdiction policy as sign-up is, and a customer homed
// where its data may not rest is refused: nothing is created either way.
func TestPartnerProvisioningIsDecidedByThePolicy(t *testing.T) {
	f := newPartnerAPI(t, account.Limits{})
	_, key := f.partnerKey(t, partnerA, allPartnerScopes...)
	cases := []struct{ body, code string }{
		{`{"account_type":"individual","country":"CN","owner":{"email":"li@example.cn","display_name":"Li"}}`, "registration_business_only"},
		{`{"account_type":"business","account_name":"Shanghai Co","country":"CN","owner":{"email":"li@example.cn","display_name":"Li"}}`, "data_residency_cn"},
	}
	for _, c := range cases {
		r := f.call(t, "POST", "/api/partner/customers", c.body, bearer(key)...)
		if out := refusalOf(t, r); out.Code != c.code || out.RuleID == "" || out.PolicyVersion != "china-2020.1" {
			t.Errorf("%s: %s, want %s", c.body, r.body, c.code)
		}
	}
	if r := f.call(t, "POST", "/api/partner/customers", `{"account_type":"business","account_name":"X","owner":{"email":"x@example.com","display_name":"X"}}`, bearer(key)...); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
		t.Fatalf("without a country: %d %s", r.status, r.body)
	}
	if n := f.customerCount(t, key); n != 0 {
		t.Fatalf("%d customers after refusals", n)
	}
	if len(f.mail.sent()) != 0 {
		t.Fatalf("mail sent for a refused provisioning: %+v", f.mail.sent())
	}
}

func (f *partnerFixture) customerCount(t *testing.T, key string) int {
	t.Helper()
	return len(f.customerIDs(t, key))
}

func (f *partnerFixture) customerIDs(t *testing.T, key string) []string {
	t.Helper()
	r := f.call(t, "GET", "/api/partner/customers", "", bearer(key)...)
	var out struct {
		Customers []struct{ ID, Channel string }
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("list customers: %d %s", r.status, r.body)
	}
	var ids []string
	for _, c := range out.Customers {
		ids = append(ids, c.ID)
	}
	return ids
}

func buyPro(idem string) (string, []string) {
	return `{"kind":"new","plan":"pro","currency":"USD","billing_country":"US","payment_token":"tok_ok"}`, []string{IdempotencyHeader, idem}
}

// Two partners, each with customers: neither's key reads, lists, changes or checks out
// the other's customers. Another partner's id answers exactly as an id nobody has.
func TestPartnerTenantIsolation(t *testing.T) {
	f := newPartnerAPI(t, account.Limits{})
	_, keyA := f.partnerKey(t, partnerA, allPartnerScopes...)
	_, keyB := f.partnerKey(t, partnerB, allPartnerScopes...)
	a1, _ := f.provision(t, keyA, "one@a.example")
	a2, _ := f.provision(t, keyA, "two@a.example")
	b1, b1Owner := f.provision(t, keyB, "one@b.example")
	if r := f.call(t, "POST", "/api/partner/customers/"+b1+"/users", `{"email":"mem@b.example","display_name":"M","role":"member"}`, bearer(keyB)...); r.status != http.StatusCreated {
		t.Fatalf("B adds a user: %d %s", r.status, r.body)
	}
	// A direct account, signed up by itself.
	f.signUpAs(t, "direct@example.com")
	direct := f.accountOf(t, "direct@example.com")

	// Listing shows only one's own.
	if ids := f.customerIDs(t, keyA); len(ids) != 2 || !contains(ids, a1) || !contains(ids, a2) {
		t.Fatalf("A lists %v, want %s and %s", ids, a1, a2)
	}
	if ids := f.customerIDs(t, keyB); len(ids) != 1 || ids[0] != b1 {
		t.Fatalf("B lists %v, want %s", ids, b1)
	}

	// Every customer route, with A's key on B's customer, on a direct account, and on a
	// guessed id, answers as for an id nobody has.
	checkout, idem := buyPro("k-1")
	routes := []struct{ method, path, body string }{
		{"GET", "/api/partner/customers/%s", ""},
		{"GET", "/api/partner/customers/%s/users", ""},
		{"POST", "/api/partner/customers/%s/users", `{"email":"intruder@a.example","display_name":"I","role":"admin"}`},
		{"DELETE", "/api/partner/customers/%s/users/" + b1Owner, ""},
		{"GET", "/api/partner/customers/%s/subscription", ""},
		{"GET", "/api/partner/customers/%s/invoices", ""},
		{"POST", "/api/partner/customers/%s/checkout", checkout},
		{"POST", "/api/partner/customers/%s/cancel", ""},
	}
	nobody := strings.Repeat("Z", len(b1))
	for _, rt := range routes {
		var headers []string
		if rt.method == "POST" && strings.HasSuffix(rt.path, "/checkout") {
			headers = idem
		}
		want := f.call(t, rt.method, fmt.Sprintf(rt.path, nobody), rt.body, append(bearer(keyA), headers...)...)
		if want.status != http.StatusNotFound || want.code(t) != "not_found" {
			t.Fatalf("%s %s with an unknown id: %d %s", rt.method, rt.path, want.status, want.body)
		}
		for who, probe := range map[string]struct{ key, id string }{
			"A on B's customer": {keyA, b1}, "A on a direct account": {keyA, direct}, "B on A's customer": {keyB, a1},
		} {
			got := f.call(t, rt.method, fmt.Sprintf(rt.path, probe.id), rt.body, append(bearer(probe.key), headers...)...)
			if got.status != want.status || string(got.body) != string(want.body) {
				t.Errorf("%s: %s %s = %d %s; want as for an unknown id, %d %s", who, rt.method, rt.path, got.status, got.body, want.status, want.body)
			}
		}
	}
	// A's own customer id with a user of B's customer: no such user.
	if r := f.call(t, "DELETE", "/api/partner/customers/"+a1+"/users/"+b1Owner, "", bearer(keyA)...); r.status != http.StatusNotFound {
		t.Fatalf("A removes B's customer's owner through its own customer: %d %s", r.status, r.body)
	}

	// Nothing of B's changed, nothing was charged, nobody was added.
	if n := f.userCount(t, keyB, b1); n != 2 {
		t.Fatalf("B's customer has %d users, want 2", n)
	}
	if len(f.pay.Charges()) != 0 {
		t.Fatalf("charged %+v", f.pay.Charges())
	}
	if _, err := f.st.GetUserByEmail(t.Context(), "intruder@a.example"); err == nil {
		t.Fatal("a user was added to another partner's customer")
	}

	// A's own customer: checkout, subscription, invoices, cancel work.
	r := f.call(t, "POST", "/api/partner/customers/"+a1+"/checkout", checkout, append(bearer(keyA), idem...)...)
	if r.status != http.StatusCreated {
		t.Fatalf("A checks out its customer: %d %s", r.status, r.body)
	}
	var rc struct {
		Invoice struct{ Seller struct{ Channel string } }
	}
	if json.Unmarshal(r.body, &rc) != nil || rc.Invoice.Seller.Channel != partnerA {
		t.Fatalf("checkout body %s", r.body)
	}
	if r := f.call(t, "GET", "/api/partner/customers/"+a1+"/invoices", "", bearer(keyA)...); r.status != http.StatusOK || !strings.Contains(string(r.body), `"channel":"lotus-bridge"`) {
		t.Fatalf("invoices: %d %s", r.status, r.body)
	}
	r = f.call(t, "POST", "/api/partner/customers/"+a1+"/cancel", "", bearer(keyA)...)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"status":"cancelled"`) {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	// B still cannot see A's customer's subscription.
	if r := f.call(t, "GET", "/api/partner/customers/"+a1+"/subscription", "", bearer(keyB)...); r.status != http.StatusNotFound {
		t.Fatalf("B reads A's customer's subscription: %d %s", r.status, r.body)
	}
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (f *partnerFixture) accountOf(t *testing.T, email string) string {
	t.Helper()
	u, err := f.st.GetUserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.AccountID
}

// Partner routes take partner keys and nothing else; user routes never take a partner
// key; a key lacking a scope is forbidden; a revoked one is unauthenticated.
func TestPartnerKeysAuthenticateOnlyPartners(t *testing.T) {
	f := newPartnerAPI(t, account.Limits{})
	keyID, key := f.partnerKey(t, partnerA, allPartnerScopes...)
	_, readOnly := f.partnerKey(t, partnerA, account.ScopePartnerAccountsRead)
	id, _ := f.provision(t, key, "owner@customer.example")

	if r := f.call(t, "GET", "/api/partner", "", bearer(key)...); r.status != http.StatusOK || !strings.Contains(string(r.body), `"id":"lotus-bridge"`) {
		t.Fatalf("GET /api/partner: %d %s", r.status, r.body)
	}

	// An account's own API key, a session, no credential: not a partner.
	user := f.signUpAs(t, "user@example.com")
	_, mk := f.createKey(t, user, account.ScopeAccountRead, account.ScopeBillingRead)
	for name, headers := range map[string][]string{
		"account API key": bearer(mk), "session cookie": user.auth(true), "nothing": nil,
		"malformed partner key": bearer("pk_nope"), "basic auth": {"Authorization", "Basic b3BzOnB3"},
	} {
		r := f.call(t, "GET", "/api/partner/customers", "", headers...)
		if r.status != http.StatusUnauthorized || r.code(t) != "unauthenticated" || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s on a partner route: %d %s", name, r.status, r.body)
		}
	}
	// A partner key on user routes.
	for _, path := range []string{"/api/me", "/api/subscription", "/api/keys", "/api/meetings", "/api/policy", "/api/operator/partners/" + partnerA} {
		if r := f.call(t, "GET", path, "", bearer(key)...); r.status != http.StatusUnauthorized {
			t.Errorf("partner key on %s: %d %s", path, r.status, r.body)
		}
	}
	// A key without the scope: 403 forbidden, before any id is looked up.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/partner/customers", `{"account_type":"business","account_name":"X","country":"US","owner":{"email":"x@example.com","display_name":"X"}}`},
		{"GET", "/api/partner/customers/" + id + "/invoices", ""},
		{"GET", "/api/partner/customers/nobody/subscription", ""},
		{"POST", "/api/partner/customers/" + id + "/cancel", ""},
	} {
		r := f.call(t, c.method, c.path, c.body, bearer(readOnly)...)
		if r.status != http.StatusForbidden || r.code(t) != "forbidden" || !strings.Contains(string(r.body), "partner:") {
			t.Errorf("read-only key: %s %s = %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if r := f.call(t, "GET", "/api/partner/customers/"+id, "", bearer(readOnly)...); r.status != http.StatusOK {
		t.Fatalf("read-only key reads: %d %s", r.status, r.body)
	}

	// The operator sees the keys, with their last use, never a secret.
	r := f.call(t, "GET", "/api/operator/partners/"+partnerA+"/keys", "", f.ops.auth(false)...)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"last_used_at"`) || strings.Contains(string(r.body), key) ||
		strings.Contains(string(r.body), `"secret"`) {
		t.Fatalf("list partner keys: %d %s", r.status, r.body)
	}
	// Only operators manage partners and keys; an account API key never does.
	for name, headers := range map[string][]string{"user": user.auth(true), "account API key": bearer(mk)} {
		if r := f.call(t, "POST", "/api/operator/partners/"+partnerA+"/keys", `{"name":"x","scopes":["partner:accounts:read"]}`, headers...); r.status != http.StatusForbidden {
			t.Errorf("%s creates a partner key: %d %s", name, r.status, r.body)
		}
	}
	if r := f.call(t, "POST", "/api/operator/partners/"+partnerA+"/keys", `{"name":"x","scopes":["billing:read"]}`, f.ops.auth(true)...); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
		t.Fatalf("a partner key with an account scope: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/operator/partners/nobody/keys", `{"name":"x","scopes":["partner:accounts:read"]}`, f.ops.auth(true)...); r.status != http.StatusNotFound {
		t.Fatalf("a key for no partner: %d %s", r.status, r.body)
	}

	// Revoked: unauthenticated at once; revoking it again is fine; another partner's key id
	// is not found.
	if r := f.call(t, "DELETE", "/api/operator/partners/"+partnerB+"/keys/"+keyID, "", f.ops.auth(true)...); r.status != http.StatusNotFound {
		t.Fatalf("revoke through another partner: %d %s", r.status, r.body)
	}
	for range 2 {
		if r := f.call(t, "DELETE", "/api/operator/partners/"+partnerA+"/keys/"+keyID, "", f.ops.auth(true)...); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
	}
	if r := f.call(t, "GET", "/api/partner/customers", "", bearer(key)...); r.status != http.StatusUnauthorized || r.code(t) != "unauthenticated" {
		t.Fatalf("revoked key: %d %s", r.status, r.body)
	}
	// A right prefix with a wrong secret is refused alike.
	wrong := key[:len(key)-4] + "aaaa"
	if wrong == key {
		wrong = key[:len(key)-4] + "bbbb"
	}
	if r := f.call(t, "GET", "/api/partner/customers", "", bearer(wrong)...); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d %s", r.status, r.body)
	}
}

// A client that keeps presenting bad partner keys is refused, right key or wrong, until
// its bucket refills.
func TestPartnerKeyGuessingIsLimited(t *testing.T) {
	limits := account.DefaultLimits()
	limits.PartnerKeyPerIP = account.RateLimit{Every: 1 << 40, Burst: 3}
	f := newPartnerAPI(t, limits)
	_, key := f.partnerKey(t, partnerA, allPartnerScopes...)
	if r := f.call(t, "GET", "/api/partner", "", bearer(key)...); r.status != http.StatusOK {
		t.Fatalf("right key: %d %s", r.status, r.body)
	}
	for i := range 3 {
		guess := "pk_" + strings.Repeat("a", 12) + "_" + strings.Repeat(string(rune('a'+i)), 26)
		if r := f.call(t, "GET", "/api/partner", "", bearer(guess)...); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", i, r.status, r.body)
		}
	}
	r := f.call(t, "GET", "/api/partner", "", bearer(key)...)
	if r.status != http.StatusTooManyRequests || r.code(t) != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("right key after the guesses: %d %s", r.status, r.body)
	}
}

// Making and revoking keys, refusals of keys, refusals of scope and provisioning are in
// the audit trail, by whom.
func TestPartnerAPIAudit(t *testing.T) {
	f := newPartnerAPI(t, account.Limits{})
	keyID, key := f.partnerKey(t, partnerA, allPartnerScopes...)
	_, readOnly := f.partnerKey(t, partnerA, account.ScopePartnerAccountsRead)
	id, _ := f.provision(t, key, "owner@customer.example")
	f.call(t, "GET", "/api/partner/customers/"+id+"/invoices", "", bearer(readOnly)...)
	f.call(t, "DELETE", "/api/operator/partners/"+partnerA+"/keys/"+keyID, "", f.ops.auth(true)...)
	f.call(t, "GET", "/api/partner/customers", "", bearer(key)...)

	ops, err := f.st.GetUserByEmail(t.Context(), "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := f.st.ListAudit(t.Context(), store.AuditQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ actor, action, subject, outcome string }{
		{ops.ID, "partner.put", partnerA, "ok"},
		{ops.ID, "partner_key.create", keyID, "ok"},
		{"partner:" + partnerA, "partner.account_provision", id, "ok"},
		{"partner:" + partnerA, "user.invite", "", "sent"},
		{"partner:" + partnerA, "partner.invoices_list", "", "denied"},
		{ops.ID, "partner_key.revoke", keyID, "ok"},
		{"anonymous", "partner_key.use", keyID, "denied"},
	}
	for _, w := range want {
		found := false
		for _, e := range entries {
			if e.Actor == w.actor && e.Action == w.action && (w.subject == "" || e.Subject == w.subject) && e.Outcome == w.outcome {
				found = true
				if strings.Contains(e.Detail, key) {
					t.Errorf("audit entry %+v holds the key", e)
				}
			}
		}
		if !found {
			t.Errorf("no audit entry %+v", w)
		}
	}
}
