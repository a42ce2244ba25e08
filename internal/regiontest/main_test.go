//go:build linux

package regiontest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/netlab"
)

// binDir holds the meridian binary built for this test process; TestMain removes it.
var binDir string

// meridianBinary builds the meridian binary once per test process, on first use, so that
// a run whose tests all skip builds nothing.
var meridianBinary = sync.OnceValues(func() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return netlab.BuildMeridian(ctx, binDir)
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meridian-regiontest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "regiontest:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildMeridian returns the path of the meridian binary, or fails t.
func buildMeridian(t *testing.T) string {
	t.Helper()
	bin, err := meridianBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
