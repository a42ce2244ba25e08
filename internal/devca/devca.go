// Package devca is a certificate authority for development and tests: `meridian dev` and
// the multi-node tests put the bus on TLS with it, as a production deployment does with
// its own CA. Its certificates are for loopback and the addresses given, valid for a year.
package devca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA signs certificates; File is its certificate's PEM file, the ca_file of every node.
type CA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	File string
}

// Files are a certificate and its key, PEM.
type Files struct{ CertFile, KeyFile string }

const validity = 365 * 24 * time.Hour

// Open loads the CA named name from dir (<name>-ca.pem, <name>-ca.key), creating it
// there first if it is not.
func Open(dir, name string) (*CA, error) {
	certFile, keyFile := filepath.Join(dir, name+"-ca.pem"), filepath.Join(dir, name+"-ca.key")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devca: %w", err)
	}
	ca, err := load(certFile, keyFile)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return ca, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devca: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name + " development CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(validity),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("devca: %w", err)
	}
	if err := writeKey(keyFile, key); err != nil {
		return nil, err
	}
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return nil, err
	}
	return load(certFile, keyFile)
}

func load(certFile, keyFile string) (*CA, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, fmt.Errorf("devca: %s or %s is not PEM", certFile, keyFile)
	}
	cert, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devca: %s: %w", certFile, err)
	}
	key, err := x509.ParseECPrivateKey(kp.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devca: %s: %w", keyFile, err)
	}
	return &CA{dir: filepath.Dir(certFile), cert: cert, key: key, File: certFile}, nil
}

// Issue writes a new certificate and key for name (<name>.pem, <name>.key beside the
// CA), good as a TLS server and client on 127.0.0.1, localhost and ips.
func (ca *CA) Issue(name string, ips ...net.IP) (Files, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Files{}, fmt.Errorf("devca: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: append([]net.IP{net.IPv4(127, 0, 0, 1)}, ips...), DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return Files{}, fmt.Errorf("devca: %w", err)
	}
	f := Files{CertFile: filepath.Join(ca.dir, name+".pem"), KeyFile: filepath.Join(ca.dir, name+".key")}
	if err := writeKey(f.KeyFile, key); err != nil {
		return Files{}, err
	}
	if err := writePEM(f.CertFile, "CERTIFICATE", der); err != nil {
		return Files{}, err
	}
	return f, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126)) // never fails (crypto/rand)
	return n
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	return writePEM(path, "EC PRIVATE KEY", der)
}

func writePEM(path, typ string, der []byte) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	return nil
}
