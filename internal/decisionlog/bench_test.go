package decisionlog

import (
	"testing"

	"github.com/meridian-video/meridian/internal/policy"
)

// BenchmarkRecord is the cost a decision adds at its call site (signed-in: queued for the
// writer; anonymous-repeat: counted in memory), and written-per-entry the writer's cost per
// entry when decisions arrive faster than it writes (SQLite, batches of up to 256): Record
// and, every 256, wait for the writer, so none is dropped.
func BenchmarkRecord(b *testing.B) {
	f := policy.Facts{AccountType: "individual", Country: "CN", BillingCountry: "CN", Plan: "free", Channel: "direct", HomeRegion: "cn-east"}
	d := policy.Decision{Code: "free_plan_cannot_host_cn", RuleID: "cn-host-free", Jurisdiction: "CN", PolicyVersion: "china-2020.1"}
	for _, c := range []struct {
		name      string
		anonymous bool
		sync      bool
	}{{"signed-in", false, false}, {"anonymous-repeat", true, false}, {"written-per-entry", false, true}} {
		b.Run(c.name, func(b *testing.B) {
			l, _, _ := newLog(b, Options{})
			ctx := b.Context()
			n := 0
			for b.Loop() {
				if !c.sync && n%queueLen == 0 {
					// Keep the queue from filling: this measures queueing, not dropping.
					b.StopTimer()
					_ = l.sync(ctx)
					b.StartTimer()
				}
				l.Record(ctx, Made{Question: policy.QHost, Subject: "ACCOUNT1", Facts: f, Decision: d, Anonymous: c.anonymous})
				n++
				if c.sync && n%maxBatch == 0 {
					_ = l.sync(ctx)
				}
			}
			_ = l.sync(ctx)
			if l.dropped != 0 {
				b.Fatalf("%d entries dropped", l.dropped)
			}
		})
	}
}
