package server_test

import (
	"net/http"
	"testing"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/server/servertest"
)

// A partner is served in its region whatever node its request enters: its record and
// keys are made (by an operator homed there) in that region's store, a partner key's
// request reaching another region is forwarded there, and its customers are homed there.
func TestPartnerAPIAcrossRegions(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{Regions: []string{"us-west:US", "eu-central:EU"},
		Configure: func(c *config.Config) { c.Operators = []string{"ops@example.eu"} }})
	waitReplicating(t, d)
	us, eu := d.Region("us-west")[0], d.Region("eu-central")[0]

	ops := newWebClient(t)
	var sess struct {
		CSRFToken string `json:"csrf_token"`
	}
	ops.must(http.StatusCreated, us, "POST", "/api/signup", map[string]any{"account_type": "business", "account_name": "Operator",
		"email": "ops@example.eu", "display_name": "Ops", "password": "correct horse battery", "home_region": "eu-central"}, &sess)
	ops.csrf = sess.CSRFToken
	var partner struct{ Partner struct{ Region string } }
	ops.must(http.StatusOK, us, "PUT", "/api/operator/partners/euro-oem", map[string]any{"kind": "oem", "name": "Euro OEM",
		"support": map[string]any{"email": "help@euro-oem.example"}}, &partner)
	if partner.Partner.Region != "eu-central" {
		t.Fatalf("partner homed in %q, want the operator's region eu-central", partner.Partner.Region)
	}
	var key struct{ Secret string }
	ops.must(http.StatusCreated, us, "POST", "/api/operator/partners/euro-oem/keys", map[string]any{"name": "crm",
		"scopes": []string{"partner:accounts:read", "partner:accounts:write"}}, &key)

	p := newWebClient(t)
	auth := []string{"Authorization", "Bearer " + key.Secret}
	var me struct{ Partner struct{ ID, Region string } }
	p.must(http.StatusOK, us, "GET", "/api/partner", nil, &me, auth...)
	if me.Partner.ID != "euro-oem" || me.Partner.Region != "eu-central" {
		t.Fatalf("through us-west: %+v", me)
	}
	var made struct {
		Customer struct{ ID, Region, Channel string }
	}
	p.must(http.StatusCreated, us, "POST", "/api/partner/customers", map[string]any{"account_type": "business",
		"account_name": "Kunde GmbH", "country": "DE", "owner": map[string]any{"email": "chef@kunde.example", "display_name": "Chef"}}, &made, auth...)
	if made.Customer.Region != "eu-central" || made.Customer.Channel != "euro-oem" {
		t.Fatalf("customer %+v, want homed in eu-central in channel euro-oem", made.Customer)
	}
	var list struct{ Customers []struct{ ID string } }
	p.must(http.StatusOK, eu, "GET", "/api/partner/customers", nil, &list, auth...)
	if len(list.Customers) != 1 || list.Customers[0].ID != made.Customer.ID {
		t.Fatalf("customers through eu-central: %+v", list)
	}
	// The owner's invitation is mailed by the home region; its link works anywhere.
	newWebClient(t).must(http.StatusNoContent, us, "POST", "/api/password/reset/confirm", map[string]any{
		"token": resetToken(t, d, "eu-central", "chef@kunde.example"), "new_password": "correct horse battery"}, nil)
	newWebClient(t).must(http.StatusOK, us, "POST", "/api/signin", map[string]any{"email": "chef@kunde.example", "password": "correct horse battery"}, nil)
}
