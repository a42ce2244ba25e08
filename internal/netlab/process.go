//go:build linux

package netlab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envArtifacts overrides where failing tests leave their artifacts; the browser tests
// read the same variable.
const envArtifacts = "MERIDIAN_TEST_ARTIFACTS"

// ArtifactDir is the directory for t's artifacts, made if missing:
// $MERIDIAN_TEST_ARTIFACTS/<test> (default <os.TempDir()>/meridian-test-artifacts/<test>).
func ArtifactDir(t testing.TB) string {
	t.Helper()
	root := os.Getenv(envArtifacts)
	if root == "" {
		root = filepath.Join(os.TempDir(), "meridian-test-artifacts")
	}
	dir := filepath.Join(root, safeName(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("netlab: artifacts: %v", err)
	}
	return dir
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName turns a test or host name into one path element.
func safeName(s string) string {
	return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "._")
}

// Process is a program started in a host by Start.
type Process struct {
	// Log is the file that holds the program's standard output and error.
	Log string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
	once sync.Once
}

// logTail is how much of a process's log a failed test shows.
const logTail = 40

// Start runs binary with args inside the host, in a process group of its own, its output
// going to <artifacts>/<host>-<program>.log. When t ends the whole group is stopped
// (SIGTERM, then SIGKILL after 5 s); if t failed, the log's last lines are shown and the
// file is kept, else it is removed.
func (h *Host) Start(t testing.TB, binary string, args ...string) *Process {
	t.Helper()
	logPath := filepath.Join(ArtifactDir(t), safeName(h.Name+"-"+filepath.Base(binary))+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("netlab: %v", err)
	}
	cmd := exec.Command(binary, args...)
	h.Wrap(cmd)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own group, so that stopping it reaches its children too. No Pdeathsig: it
	// fires when the thread that forked ends, and Host.Do ends threads. A run killed
	// before its cleanup leaves the process to the next run's sweep, which kills what
	// runs in a dead run's namespaces.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("netlab: start %s in %s: %v", binary, h.Name, err)
	}
	p := &Process{Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the state is in cmd.ProcessState
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if !t.Failed() {
			_ = os.Remove(logPath)
			return
		}
		t.Logf("netlab: %s in %s: log %s, last lines:\n%s", filepath.Base(binary), h.Name, logPath, tail(logPath, logTail))
	})
	return p
}

// Stop ends the process group: SIGTERM, then SIGKILL if it is still there after 5 s.
// It returns once the process has been waited for.
func (p *Process) Stop() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
		// The group may have members left even when its leader is gone.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
}

// Kill ends the process group at once with SIGKILL, as a crash would, and waits for it.
func (p *Process) Kill() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err describes how the process ended, once Exited is closed.
func (p *Process) Err() error {
	select {
	case <-p.done:
	default:
		return errors.New("still running")
	}
	if st := p.cmd.ProcessState; !st.Success() {
		return fmt.Errorf("exited: %v", st)
	}
	return nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-n):], []byte("\n")))
}
