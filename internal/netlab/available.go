//go:build linux

package netlab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Available reports why a lab cannot be made on this machine, or nil.
func Available() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("network namespaces need Linux, this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return errors.New("not running as root (needed to create network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("the ip command (iproute2) is missing: %w", err)
	}
	return nil
}

// Require skips t when a lab cannot be made here, saying why; when the environment
// variable CI is set it fails t instead, as the browser tests do, since CI must run them.
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		Unavailable(t, err)
	}
}

// Unavailable stops t for a missing prerequisite: a failure under CI, a skip elsewhere.
func Unavailable(t testing.TB, why error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("netlab: cannot run: %v (CI is set, so this is an error)", why)
	}
	t.Skipf("netlab: skipped: %v", why)
}

// sweep deletes the namespaces of labs whose process is gone: a run killed before its
// cleanup. Another live process's labs are left alone, so runs in parallel do not collide.
func sweep(t testing.TB) {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return // no namespaces yet
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err == nil && pid > 0 && syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // its process still runs (or the name is not ours to judge)
		}
		if err := deleteNetns(e.Name()); err != nil {
			t.Logf("netlab: remove leftover namespace %s: %v", filepath.Join(netnsDir, e.Name()), err)
		} else {
			t.Logf("netlab: removed leftover namespace %s", e.Name())
		}
	}
}
