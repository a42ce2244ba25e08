package mail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOutboxWritesReadableMail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := &Outbox{Dir: dir}
	if err := o.Send(context.Background(), Message{To: "ann@example.com", Subject: "Reset", Body: "link: https://x/reset?t=abc"}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), "To: ann@example.com") || !strings.Contains(string(b), "https://x/reset?t=abc") {
		t.Fatalf("mail = %s", b)
	}
	st, _ := os.Stat(files[0])
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	o := &Outbox{Dir: t.TempDir()}
	for _, m := range []Message{
		{To: "ann@example.com\r\nBcc: all@example.com", Subject: "x"},
		{To: "Ann <ann@example.com>", Subject: "x"},
		{To: "ann@example.com", Subject: "x\r\nBcc: all@example.com"},
	} {
		if err := o.Send(context.Background(), m); err == nil {
			t.Errorf("%+v accepted", m)
		}
	}
}
