package directory_test

import (
	"context"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/bus/bustest"
	"github.com/meridian-video/meridian/internal/directory"
)

// BenchmarkLookup reads an account from eu-central: one homed there (its own bucket) and
// one homed in us-west (its own bucket misses, then its view of every region answers).
// Both are reads from eu-central's servers; nothing crosses a gateway.
func BenchmarkLookup(b *testing.B) {
	buses := bustest.StartAll(b, bustest.Supercluster(b, b.TempDir(), regions...))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var dirs []*directory.Directory
	for _, bs := range buses {
		d, err := directory.Open(ctx, bs, directory.Config{Deployment: deployment()}, bustest.Logger(b))
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		if err := d.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	if err := dirs[0].PutAccount(ctx, directory.Account{ID: "US1", HomeRegion: "us-west"}); err != nil {
		b.Fatal(err)
	}
	if err := dirs[1].PutAccount(ctx, directory.Account{ID: "EU1", HomeRegion: "eu-central"}); err != nil {
		b.Fatal(err)
	}
	eu := dirs[1]
	for {
		if _, err := eu.Account(ctx, "US1"); err == nil {
			break
		}
		if ctx.Err() != nil {
			b.Fatal("US1 never reached eu-central's view")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct{ name, id string }{{"home_here", "EU1"}, {"home_elsewhere", "US1"}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := eu.Account(ctx, c.id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
