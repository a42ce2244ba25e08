package commerce

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/mail"
	"github.com/meridian-video/meridian/internal/store"
)

// orchid is an OEM partner with its own domain (not in the example policy's list).
func orchid() store.Partner {
	return store.Partner{ID: "orchid", Kind: store.PartnerOEM, Name: "Orchid Systems",
		Brand: store.Brand{Name: "Orchid Talk", LogoURL: "https://cdn.orchid.example/logo.svg", PrimaryColor: "#7a1f5c",
			AccentColor: "#f2a900", Domain: "Talk.Orchid.Example"},
		Support: store.SupportContact{Email: "help@orchid.example"}}
}

// A request's host is served under the brand of the partner whose domain it is, whatever
// its case or port; any other host under the operator's.
func TestBrandForHost(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if b := f.svc.BrandForHost(ctx, "talk.orchid.example"); b.Channel != store.ChannelDirect || b.Name != "Meridian" ||
		b.Support.Email != "support@meridian.example" {
		t.Fatalf("before the partner has the domain: %+v", b)
	}
	if err := f.svc.PutPartner(ctx, orchid()); err != nil {
		t.Fatal(err)
	}
	if p, _ := f.st.GetPartner(ctx, "orchid"); p.Brand.Domain != "talk.orchid.example" {
		t.Fatalf("domain stored as %q, want it lower-case", p.Brand.Domain)
	}
	for _, host := range []string{"talk.orchid.example", "TALK.Orchid.example:8443", "talk.orchid.example."} {
		b := f.svc.BrandForHost(ctx, host)
		if b.Channel != "orchid" || b.Name != "Orchid Talk" || b.PrimaryColor != "#7a1f5c" || b.AccentColor != "#f2a900" ||
			b.LogoURL != "https://cdn.orchid.example/logo.svg" || b.Support.Email != "help@orchid.example" ||
			b.BaseURL() != "https://talk.orchid.example" {
			t.Errorf("%s: %+v", host, b)
		}
	}
	for _, host := range []string{"", "127.0.0.1:8080", "orchid.example", "evil.talk.orchid.example", "[::1]:80"} {
		if b := f.svc.BrandForHost(ctx, host); b.Channel != store.ChannelDirect || b.Domain != "" {
			t.Errorf("%q: %+v, want the operator's brand", host, b)
		}
	}
	// A change is served at once by the Service that made it (its cache is read again).
	p := orchid()
	p.Brand.PrimaryColor = "#000000"
	if err := f.svc.PutPartner(ctx, p); err != nil {
		t.Fatal(err)
	}
	if b := f.svc.BrandForHost(ctx, "talk.orchid.example"); b.PrimaryColor != "#000000" {
		t.Errorf("after the change: %+v", b)
	}
}

// No two partners claim one domain; a domain is a plain host name.
func TestPartnerDomainTaken(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.PutPartner(ctx, orchid()); err != nil {
		t.Fatal(err)
	}
	other := store.Partner{ID: "other-oem", Kind: store.PartnerOEM, Name: "Other", Support: store.SupportContact{Email: "o@other.example"},
		Brand: store.Brand{Domain: "talk.ORCHID.example"}}
	err := f.svc.PutPartner(ctx, other)
	if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "another partner's") {
		t.Fatalf("the same domain again: %v", err)
	}
	if _, err := f.st.GetPartner(ctx, "other-oem"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused partner was stored: %v", err)
	}
	for _, d := range []string{"talk.orchid.example<x>", "-a.example", "a..example", "localhost", "talk orchid.example"} {
		other.Brand.Domain = d
		if err := f.svc.PutPartner(ctx, other); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("domain %q: %v, want invalid_input", d, err)
		}
	}
}

// An OEM partner's customers see its brand; a reseller's customers the operator's brand
// with the reseller's support; direct accounts the operator's.
func TestAccountBrand(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.PutPartner(ctx, orchid()); err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.AccountBrand(ctx, f.account(t, "orchid"))
	if err != nil || b.Name != "Orchid Talk" || b.BaseURL() != "https://talk.orchid.example" || b.Support.Email != "help@orchid.example" {
		t.Fatalf("OEM customer: %+v, %v", b, err)
	}
	b, err = f.svc.AccountBrand(ctx, f.account(t, "acme-resell"))
	if err != nil || b.Name != "Meridian" || b.BaseURL() != "" || b.Support.Channel != "acme-resell" ||
		b.Support.Name != "Acme Video" || b.Support.Email != "support@acme.example" {
		t.Fatalf("reseller customer: %+v, %v", b, err)
	}
	b, err = f.svc.AccountBrand(ctx, f.account(t, store.ChannelDirect))
	if err != nil || b.Name != "Meridian" || b.Support.Email != "support@meridian.example" {
		t.Fatalf("direct customer: %+v, %v", b, err)
	}
}

// A password reset mail to an OEM partner's customer is in the partner's name and links
// to the partner's domain; a direct customer's is Meridian's, on the server's URL. Real
// account and commerce services over one store, mail to the outbox.
func TestResetMailUnderThePartnersBrand(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.PutPartner(ctx, orchid()); err != nil {
		t.Fatal(err)
	}
	outbox := &mail.Outbox{Dir: t.TempDir()}
	accounts, err := account.New(f.st, outbox, account.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Brander: f.svc})
	if err != nil {
		t.Fatal(err)
	}
	owner := func(channel, email string) {
		if _, _, err := f.st.CreateAccountWithOwner(ctx, store.Account{Type: "business", Name: "C", Plan: "free", Channel: channel},
			store.User{Email: email, DisplayName: "Owner", PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	owner("orchid", "oem-customer@example.com")
	owner(store.ChannelDirect, "direct@example.com")
	for _, email := range []string{"oem-customer@example.com", "direct@example.com"} {
		if err := accounts.RequestPasswordReset(ctx, email, "http://127.0.0.1:8080/reset-password"); err != nil {
			t.Fatal(err)
		}
	}
	if err := accounts.Close(context.Background()); err != nil { // sends what was accepted
		t.Fatal(err)
	}
	mails := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(outbox.Dir, "*.eml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range []string{"oem-customer@example.com", "direct@example.com"} {
			if strings.Contains(string(b), "To: "+to+"\r\n") {
				mails[to] = string(b)
			}
		}
	}
	oem, direct := mails["oem-customer@example.com"], mails["direct@example.com"]
	for _, want := range []string{"Subject: Reset your Orchid Talk password", "your Orchid Talk account",
		"https://talk.orchid.example/reset-password?token="} {
		if !strings.Contains(oem, want) {
			t.Errorf("the OEM customer's mail lacks %q:\n%s", want, oem)
		}
	}
	if strings.Contains(oem, "Meridian") || strings.Contains(oem, "127.0.0.1") {
		t.Errorf("the OEM customer's mail names the operator:\n%s", oem)
	}
	for _, want := range []string{"Subject: Reset your Meridian password", "http://127.0.0.1:8080/reset-password?token="} {
		if !strings.Contains(direct, want) {
			t.Errorf("the direct customer's mail lacks %q:\n%s", want, direct)
		}
	}
}

// A member invitation from an OEM partner's customer is in the partner's name and links to
// the partner's domain.
func TestInvitationMailUnderThePartnersBrand(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.PutPartner(ctx, orchid()); err != nil {
		t.Fatal(err)
	}
	outbox := &mail.Outbox{Dir: t.TempDir()}
	accounts, err := account.New(f.st, outbox, account.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Brander: f.svc})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := account.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.CreateAccountWithOwner(ctx, store.Account{Type: "business", Name: "Lotus Team", Plan: "business", Channel: "orchid"},
		store.User{Email: "owner@example.com", DisplayName: "Owner", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	p, _, err := accounts.SignIn(ctx, "owner@example.com", "correct horse battery staple", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.InviteMember(ctx, p, account.InviteInput{Email: "new@example.com", Role: account.RoleMember,
		LinkBase: "http://127.0.0.1:8080/accept-invite"}); err != nil {
		t.Fatal(err)
	}
	if err := accounts.Close(context.Background()); err != nil { // sends what was accepted
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(outbox.Dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("%d mails", len(files))
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Subject: You are invited to join Lotus Team on Orchid Talk", "the Orchid Talk account Lotus Team",
		"https://talk.orchid.example/accept-invite?token="} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the invitation lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "Meridian") || strings.Contains(string(b), "127.0.0.1") {
		t.Errorf("the invitation names the operator:\n%s", b)
	}
}

// A server without a policy file has no partner list: a partner is put all the same (it
// used to panic reading the policy's partners).
func TestPutPartnerWithoutAPolicyBrandsItsDomain(t *testing.T) {
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := New(st, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := svc.PutPartner(t.Context(), orchid()); err != nil {
		t.Fatal(err)
	}
	if b := svc.BrandForHost(t.Context(), "talk.orchid.example"); b.Name != "Orchid Talk" {
		t.Fatalf("brand %+v", b)
	}
}
