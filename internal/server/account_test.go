package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A server started with the defaults serves the account API over its SQLite store, and
// mails a password-reset link to the outbox in its data directory.
func TestAccountsWithDefaultConfig(t *testing.T) {
	dir := t.TempDir()
	srv := startServerIn(t, dir)
	post := func(path, body string) *http.Response {
		t.Helper()
		resp, err := http.Post(srv.URL()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post("/api/signup", `{"account_type":"individual","email":"ada@example.com","display_name":"Ada","password":"correct horse battery"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-up: %s", resp.Status)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "meridian_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.Secure {
		t.Fatalf("session cookie %+v", cookie)
	}
	if resp := post("/api/password/reset", `{"email":"ada@example.com"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("reset request: %s", resp.Status)
	}
	// The mail goes out after the request returns.
	var files []string
	for deadline := time.Now().Add(10 * time.Second); len(files) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	}
	if len(files) != 1 {
		t.Fatalf("%d mails in the outbox", len(files))
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "To: ada@example.com") || !strings.Contains(string(b), "http://"+srv.Addr()+"/reset-password?token=") {
		t.Fatalf("mail:\n%s", b)
	}
}
