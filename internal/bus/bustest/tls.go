package bustest

import (
	"testing"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/devca"
)

// CA is a certificate authority made for one test (internal/devca).
type CA struct{ ca *devca.CA }

// NewCA makes a CA named name under dir.
func NewCA(t testing.TB, dir, name string) *CA {
	t.Helper()
	ca, err := devca.Open(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{ca: ca}
}

// Issue makes a certificate for a node on 127.0.0.1, good as a server and as a client.
func (c *CA) Issue(t testing.TB, node string) *bus.TLSFiles {
	t.Helper()
	f, err := c.ca.Issue(node)
	if err != nil {
		t.Fatal(err)
	}
	return &bus.TLSFiles{CertFile: f.CertFile, KeyFile: f.KeyFile, CAFile: c.ca.File}
}
