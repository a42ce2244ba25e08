package browsertest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/meridian-video/meridian/internal/chromium"
)

const (
	// envNetns names the namespace the re-executed test binary runs in; its presence
	// is what tells TestMain that it is the inner run.
	envNetns = "MERIDIAN_BROWSERTEST_NETNS"
	// netnsPrefix starts the name of every namespace this package makes, so a leftover
	// one (after a SIGKILL) is easy to recognise in `ip netns list`.
	netnsPrefix = "mrdn-bt-"
)

// TestMain runs the tests inside a network namespace of their own that has only lo, so
// Chromium's ICE gathering can see no interface but loopback. The outer run makes the
// namespace, re-executes this binary inside it with the same arguments, and removes the
// namespace whatever happens (including SIGINT and SIGTERM, which it forwards).
func TestMain(m *testing.M) {
	if ns := os.Getenv(envNetns); ns != "" {
		// Set by hand outside a namespace, the variable would send WebRTC packets to
		// every interface of the machine: refuse rather than trust it.
		if err := onlyLoopbackUp(); err != nil {
			fmt.Fprintf(os.Stderr, "browsertest: %s=%s but %v; refusing to run browser tests\n", envNetns, ns, err)
			os.Exit(1)
		}
		os.Exit(m.Run())
	}
	os.Exit(runInNamespace())
}

// runInNamespace is the outer run: it returns the exit code of the inner one, 0 when the
// tests are skipped, or 1 when a prerequisite is missing under CI.
func runInNamespace() int {
	if err := prerequisites(); err != nil {
		return skipOrFail(err)
	}

	// Catch the signals before the namespace exists, so that none of them can end this
	// process between creating the namespace and deleting it.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	ns, err := newNamespace()
	if err != nil {
		return skipOrFail(err)
	}
	defer func() {
		if err := ip("netns", "delete", ns); err != nil {
			fmt.Fprintf(os.Stderr, "browsertest: %v\n", err)
		}
	}()
	if err := ip("netns", "exec", ns, "ip", "link", "set", "lo", "up"); err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: %v\n", err)
		return 1
	}

	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: find the test binary: %v\n", err)
		return 1
	}
	// Not /proc/self/exe: ip resolves that itself, after it has become the ip process.
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, exe}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), envNetns+"="+ns)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	select {
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "browsertest: %v before the tests started\n", sig)
		return exitCodeFor(sig)
	default:
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: start the tests in namespace %s: %v\n", ns, err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status is read from cmd.ProcessState below
		close(done)
	}()
	for running := true; running; {
		select {
		case sig := <-sigs:
			// ip netns exec execs the test binary in place, so this reaches the tests.
			fmt.Fprintf(os.Stderr, "browsertest: %v: passing it on to the tests, then deleting namespace %s\n", sig, ns)
			_ = cmd.Process.Signal(sig)
		case <-done:
			running = false
		}
	}
	st := cmd.ProcessState
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitCodeFor(ws.Signal())
	}
	return st.ExitCode()
}

// exitCodeFor is the shell's convention for a process ended by a signal.
func exitCodeFor(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// skipOrFail reports a missing prerequisite: a failure under CI, where the browser tests
// must run, and otherwise a skip of the whole package.
func skipOrFail(why error) int {
	if os.Getenv("CI") != "" {
		fmt.Fprintf(os.Stderr, "browsertest: FAIL: cannot run the browser tests: %v (CI is set, so this is an error)\n", why)
		return 1
	}
	fmt.Printf("browsertest: SKIP: browser tests skipped: %v\n", why)
	return 0
}

// prerequisites reports the first thing missing to run the browser tests.
func prerequisites() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root (needed to create a network namespace)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("the ip command (iproute2) is missing: %w", err)
	}
	if _, err := chromium.Path(); err != nil {
		return err
	}
	return nil
}

// newNamespace creates a network namespace with a random name.
func newNamespace() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("name a network namespace: %w", err)
	}
	ns := netnsPrefix + hex.EncodeToString(b)
	if err := ip("netns", "add", ns); err != nil {
		return "", err
	}
	return ns, nil
}

// ip runs the ip command, with its output in the error.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// onlyLoopbackUp checks that every interface that is up is a loopback one, which is what
// the namespace TestMain makes looks like (a fresh namespace can also hold tunnel devices
// such as sit0, but they are down).
func onlyLoopbackUp() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("interface %s is up and not loopback", i.Name)
		}
	}
	return nil
}
