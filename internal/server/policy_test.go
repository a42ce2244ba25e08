package server_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/store"
)

// httpSession calls a server as a signed-in user, with the session cookie and CSRF token.
type httpSession struct {
	t      *testing.T
	base   string
	cookie string
	csrf   string
}

func (s *httpSession) call(method, path, contentType, body string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if s.cookie != "" {
		req.Header.Set("Cookie", s.cookie)
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if s.cookie == "" && resp.StatusCode/100 == 2 && len(resp.Cookies()) > 0 {
		var out struct {
			CSRFToken string `json:"csrf_token"`
		}
		_ = json.Unmarshal(b, &out)
		s.cookie, s.csrf = resp.Cookies()[0].Name+"="+resp.Cookies()[0].Value, out.CSRFToken
	}
	return resp.StatusCode, string(b)
}

const operatorSignUp = `{"account_type":"individual","email":"ops@example.com","display_name":"Ops","password":"correct horse battery","country":"US"}`

// An activated version survives a restart: the restarted node runs it (not policy_file),
// decides by it, says so in the audit trail, and the decision log written before the
// restart is still there. A last activated version that no longer loads stops the start
// with a clear error; policy_start: file starts from policy_file instead.
func TestActivatedPolicySurvivesARestart(t *testing.T) {
	src, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Addr, cfg.DataDir, cfg.Operators = "127.0.0.1:0", t.TempDir(), []string{"ops@example.com"}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ops := &httpSession{t: t, base: srv.URL()}
	if st, body := ops.call("POST", "/api/signup", "application/json", operatorSignUp); st != http.StatusCreated {
		t.Fatalf("sign-up: %d %s", st, body)
	}
	if st, body := ops.call("POST", "/api/policy/stage", "application/yaml", string(src)); st != http.StatusOK {
		t.Fatalf("stage: %d %s", st, body)
	}
	if st, body := ops.call("POST", "/api/policy/activate", "application/json", ""); st != http.StatusOK {
		t.Fatalf("activate: %d %s", st, body)
	}
	srv.Close()

	srv, err = server.Start(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ops.base = srv.URL() // the session lives in the store: it too survives
	st, body := ops.call("GET", "/api/policy", "application/json", "")
	if st != http.StatusOK || !strings.Contains(body, `"version":"china-2020.1"`) || !strings.Contains(body, `"origin":"activated"`) ||
		!strings.Contains(body, `"activated_by":"`) {
		t.Fatalf("running after the restart: %d %.300s", st, body)
	}
	guest := &httpSession{t: t, base: srv.URL()}
	st, body = guest.call("POST", "/api/signup", "application/json",
		`{"account_type":"individual","email":"li@example.com","display_name":"Li","password":"correct horse battery","country":"CN"}`)
	if st != http.StatusForbidden || !strings.Contains(body, `"rule_id":"cn-register-business-only"`) {
		t.Fatalf("a CN individual's sign-up after the restart: %d %s", st, body)
	}
	entries, err := srv.Store.ListAudit(t.Context(), store.AuditQuery{Actor: "system", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var starts []string
	for _, e := range entries {
		if e.Action == "policy.start" {
			starts = append(starts, e.Subject+": "+e.Detail)
		}
	}
	if len(starts) != 2 || !strings.HasPrefix(starts[0], ": no policy_file") || !strings.HasPrefix(starts[1], "china-2020.1: the last activated version") {
		t.Fatalf("audited starts %q", starts)
	}
	// The decisions of both runs are in the log: the operator's sign-up allowed, Li's refused.
	st, body = ops.call("GET", "/api/policy/decisions?outcome=refused", "application/json", "")
	if st != http.StatusOK || !strings.Contains(body, `"rule_id":"cn-register-business-only"`) || strings.Contains(body, `"allowed":true`) {
		t.Fatalf("refused decisions: %d %s", st, body)
	}
	st, body = ops.call("GET", "/api/policy/decisions?outcome=allowed", "application/json", "")
	if st != http.StatusOK || !strings.Contains(body, `"question":"register"`) || !strings.Contains(body, `"country":"US"`) {
		t.Fatalf("allowed decisions: %d %s", st, body)
	}

	// A last activated version that does not load: the node refuses to start.
	if _, err := srv.Store.AppendPolicyActivation(t.Context(), store.PolicyActivation{Actor: "u1", Name: "policy.yaml", Version: "broken",
		Source: []byte("version: broken\nrules: 1\n")}); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if srv, err := server.Start(cfg, quiet); err == nil {
		srv.Close()
		t.Fatal("a node started with a last activated version that does not load")
	} else if !strings.Contains(err.Error(), `"broken"`) || !strings.Contains(err.Error(), "does not load") {
		t.Fatalf("the refusal does not say why: %v", err)
	}
	cfg.PolicyStart = config.PolicyStartFile
	srv, err = server.Start(cfg, quiet)
	if err != nil {
		t.Fatalf("policy_start: file: %v", err)
	}
	defer srv.Close()
	ops.base = srv.URL()
	if st, body := ops.call("GET", "/api/policy", "application/json", ""); st != http.StatusOK || !strings.Contains(body, `"origin":"none"`) {
		t.Fatalf("running with policy_start file: %d %.300s", st, body)
	}
}
