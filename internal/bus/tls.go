package bus

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TLSFiles are a node's certificate and key for the bus and the deployment's CA: with
// them every route, gateway and client connection is TLS both ways, and a peer is
// accepted only with a certificate the CA signed. The secret still authenticates each
// connection; TLS keeps what crosses the network (routing facts, heartbeats, the secret
// itself) from being read or changed on the way.
type TLSFiles struct {
	CertFile string
	KeyFile  string
	CAFile   string
}

// tlsTimeout bounds a TLS handshake of the bus, in seconds (nats-server's unit).
const tlsTimeout = 2

// serverTLS is the embedded server's TLS for routes, gateways and its client listener.
// Each side of a route or gateway is a server to one peer and a client to another, so the
// CA verifies both ways (as nats-server does for its own cluster configuration).
func (t TLSFiles) serverTLS() (*tls.Config, error) {
	if t.CertFile == "" || t.KeyFile == "" || t.CAFile == "" {
		return nil, errors.New("bus tls: cert_file, key_file and ca_file are all required")
	}
	c, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: t.CertFile, KeyFile: t.KeyFile, CaFile: t.CAFile, Verify: true, MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		return nil, fmt.Errorf("bus tls: %w", err)
	}
	if c.ClientCAs == nil {
		return nil, fmt.Errorf("bus tls: ca_file %s holds no certificate", t.CAFile)
	}
	c.ClientAuth = tls.RequireAndVerifyClientCert
	c.RootCAs = c.ClientCAs
	return c, nil
}

// clientOptions are the TLS options of a connection to an external NATS.
func (t TLSFiles) clientOptions() ([]nats.Option, error) {
	if t.CertFile == "" || t.KeyFile == "" || t.CAFile == "" {
		return nil, errors.New("bus tls: cert_file, key_file and ca_file are all required")
	}
	return []nats.Option{nats.ClientCert(t.CertFile, t.KeyFile), nats.RootCAs(t.CAFile)}, nil
}
