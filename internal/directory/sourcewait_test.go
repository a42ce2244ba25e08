package directory_test

import (
	"context"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/bus/bustest"
	"github.com/meridian-video/meridian/internal/directory"
)

// At a deployment's first start a region's view is made only once every region's bucket
// exists: made earlier, JetStream would source the missing one only after its backed-off
// retries (up to a minute), and that region's facts would be missing meanwhile. Until
// then the directory is not ready, so lookups fail closed rather than answer "not found".
// A region still missing after SourceWait is sourced anyway.
func TestViewWaitsForEveryRegionsBucket(t *testing.T) {
	two := deployment()
	two.Regions = two.Regions[:2]
	buses := bustest.StartAll(t, bustest.Supercluster(t, t.TempDir(), "us-west", "eu-central"))
	open := func(i int, wait time.Duration) *directory.Directory {
		d, err := directory.Open(context.Background(), buses[i], directory.Config{Deployment: two, SourceWait: wait}, bustest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		return d
	}
	us := open(0, time.Minute)
	time.Sleep(3 * time.Second)
	if us.Ready() {
		t.Fatal("us-west is ready before eu-central's bucket exists")
	}
	eu := open(1, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, d := range []*directory.Directory{us, eu} {
		if err := d.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := eu.PutAccount(ctx, directory.Account{ID: "acct-eu", HomeRegion: "eu-central"}); err != nil {
		t.Fatal(err)
	}
	// Sourced from the start, not after a retry ten seconds on.
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, err := us.Account(ctx, "acct-eu")
		if err == nil && a.HomeRegion == "eu-central" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("us-west does not read eu-central's fact: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A region that never comes does not keep the others waiting past SourceWait.
func TestViewSourcesAMissingRegionAfterSourceWait(t *testing.T) {
	two := deployment()
	two.Regions = two.Regions[:2]
	buses := bustest.StartAll(t, bustest.Supercluster(t, t.TempDir(), "us-west", "eu-central"))
	d, err := directory.Open(context.Background(), buses[0], directory.Config{Deployment: two, SourceWait: 2 * time.Second}, bustest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx); err != nil {
		t.Fatalf("us-west alone: %v", err)
	}
}
