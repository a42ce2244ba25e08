package policy

import (
	"fmt"
	"testing"
)

// The hot path: decisions the meeting and checkout paths ask, against the shipped policy.
func BenchmarkHostCNFree(b *testing.B) {
	p, at := china(b), day("2020-05-02")
	b.ReportAllocs()
	for b.Loop() {
		if d := Host(p, cnFree, at); d.Allowed {
			b.Fatal(d)
		}
	}
}

func BenchmarkHostUS(b *testing.B) {
	p, at := china(b), day("2020-08-24")
	b.ReportAllocs()
	for b.Loop() {
		if d := Host(p, usFree, at); !d.Allowed {
			b.Fatal(d)
		}
	}
}

func BenchmarkBuyCNPartners(b *testing.B) {
	p, at := china(b), day("2020-08-24")
	b.ReportAllocs()
	for b.Loop() {
		if d := Buy(p, cnBusiness, at); d.Allowed {
			b.Fatal(d)
		}
	}
}

func BenchmarkBuyCNViaPartner(b *testing.B) {
	p, at := china(b), day("2020-08-24")
	f := cnBusiness
	f.Channel, f.Partner, f.Online = "oem", "lotus-bridge", false
	b.ReportAllocs()
	for b.Loop() {
		if d := Buy(p, f, at); !d.Allowed {
			b.Fatal(d)
		}
	}
}

// A fact no rule names (here a plan id) costs one allocation to hand to CEL.
func BenchmarkHostCNUnknownPlan(b *testing.B) {
	p, at := china(b), day("2020-05-02")
	f := cnFree
	f.Plan = "enterprise-2020"
	b.ReportAllocs()
	for b.Loop() {
		if d := Host(p, f, at); !d.Allowed {
			b.Fatal(d)
		}
	}
}

func BenchmarkLoadChina(b *testing.B) {
	data := []byte(mustExample(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load("china-2020.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// The dry run over 100,000 subjects: the China policy against none, on 2020-08-24.
func BenchmarkDiff100k(b *testing.B) {
	p, at := china(b), day("2020-08-24")
	subjects := syntheticSubjects(100_000)
	b.ReportAllocs()
	for b.Loop() {
		rep := Diff(nil, p, at, subjects)
		if len(rep.Changes) == 0 {
			b.Fatal("no changes")
		}
	}
}

// syntheticSubjects mixes accounts, subscriptions and meetings of CN, US and elsewhere.
func syntheticSubjects(n int) []Subject {
	countries := []string{"CN", "US", "US", "DE", "CN"}
	plans := []string{"free", "pro", "business"}
	kinds := []struct {
		kind string
		q    Question
	}{{"account", QRegister}, {"meeting", QHost}, {"subscription", QRenew}, {"subscription", QUpgrade}}
	out := make([]Subject, n)
	for i := range out {
		c, k := countries[i%len(countries)], kinds[i%len(kinds)]
		region := "us-east"
		if c == "CN" {
			region = "cn-east"
		}
		out[i] = Subject{ID: fmt.Sprintf("s%d", i), Kind: k.kind, Region: region, Question: k.q, Facts: Facts{
			AccountType: []string{"individual", "business"}[i%2], Country: c, BillingCountry: c,
			Plan: plans[i%len(plans)], Channel: "direct", Online: i%3 != 0,
		}}
	}
	return out
}
