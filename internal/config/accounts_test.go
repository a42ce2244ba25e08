package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadDatabaseMailAndPublicURL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.yaml")
	os.WriteFile(path, []byte(`public_url: https://meet.example.com/
database:
  postgres_dsn: postgres://meridian@db:5432/meridian
mail:
  smtp_addr: smtp.example.com:587
  from: meridian@example.com
  username: meridian
  password: secret
`), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.PostgresDSN != "postgres://meridian@db:5432/meridian" || c.Mail.SMTPAddr != "smtp.example.com:587" ||
		c.Mail.From != "meridian@example.com" || c.Mail.Username != "meridian" || c.Mail.Password != "secret" {
		t.Fatalf("config = %+v", c)
	}
	if got := c.PasswordResetURL(); got != "https://meet.example.com/reset-password" {
		t.Fatalf("reset url %q", got)
	}
}

func TestDefaultsNeedNoDatabaseOrMailServer(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Database.PostgresDSN != "" || c.Mail.SMTPAddr != "" {
		t.Fatalf("defaults name external services: %+v", c)
	}
	if got := c.BaseURL(); got != "http://127.0.0.1:8080" {
		t.Fatalf("base url %q", got)
	}
	c.Addr = ":8080"
	if got := c.BaseURL(); got != "http://localhost:8080" {
		t.Fatalf("wildcard base url %q", got)
	}
}

func TestLoadRejectsMailAndURLMistakes(t *testing.T) {
	for name, body := range map[string]string{
		"from without server": "mail:\n  from: a@example.com\n",
		"server without from": "mail:\n  smtp_addr: smtp.example.com:25\n",
		"server without port": "mail:\n  smtp_addr: smtp.example.com\n  from: a@example.com\n",
		"named from":          "mail:\n  smtp_addr: smtp.example.com:25\n  from: A <a@example.com>\n",
		"user without pass":   "mail:\n  smtp_addr: smtp.example.com:25\n  from: a@example.com\n  username: u\n",
		"unknown mail key":    "mail:\n  smtp_host: smtp.example.com\n",
		"unknown db key":      "database:\n  dsn: x\n",
		"public url scheme":   "public_url: ftp://meet.example.com\n",
		"public url relative": "public_url: meet.example.com\n",
		"public url query":    "public_url: https://meet.example.com/?a=b\n",
	} {
		path := filepath.Join(t.TempDir(), "m.yaml")
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := Load(path); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
