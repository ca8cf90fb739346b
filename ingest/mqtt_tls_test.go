package ingest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/decode"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

// testCA issues certificates for TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edgeplane test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, der: der}
}

// issue returns a PEM certificate and key for cn, a server certificate
// for 127.0.0.1 when server is set, else a client certificate.
func (ca *testCA) issue(t *testing.T, cn string, server bool, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// TestMQTTTLSAndPassword: a source connects over TLS with a client
// certificate (the broker requires one) and a username and password.
func TestMQTTTLSAndPassword(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_passwd"); err != nil {
		t.Skip("mosquitto_passwd is not installed")
	}
	dir := t.TempDir()
	// Mosquitto run as root drops to its own user before it reads the
	// key and password files.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ca := newTestCA(t)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der}))
	sc, sk := ca.issue(t, "broker", true, 2)
	certFile, keyFile := write("server.pem", sc), write("server.key", sk)
	pwFile := filepath.Join(dir, "passwd")
	if out, err := exec.Command("mosquitto_passwd", "-b", "-c", pwFile, "edge", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	if err := os.Chmod(pwFile, 0o644); err != nil {
		t.Fatal(err)
	}
	broker := testenv.MosquittoWith(t, "ssl", "allow_anonymous false\npassword_file "+pwFile+
		"\ncafile "+caFile+"\ncertfile "+certFile+"\nkeyfile "+keyFile+"\nrequire_certificate true\n")

	cc, ck := ca.issue(t, "edgeplane", false, 3)
	clientCert, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	tc := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12}

	var c collector
	o := MQTTOptions{Broker: broker, Topics: []string{"city/#"}, QoS: 1, ClientID: "tls", TLS: tc,
		Username: "edge", Password: "s3cret"}
	sub := startMQTT(t, o, &c)

	// Publish over the same TLS listener with the same credentials.
	var pc collector
	po := o
	po.ClientID, po.Topics = "tls-pub", []string{"unused/#"}
	// A clean session: with a persistent one, paho runs OnConnect (where
	// Start returns) before it resends what its store holds, so a
	// message published at once can be sent twice, once as a resend (CI
	// got value 0 twice). Sources only subscribe; this one publishes.
	po.CleanSession = true
	ps := startMQTT(t, po, &pc)
	for i := range 5 {
		tok := ps.conns[0].client.Publish("city/d1/air/s1", 1, false, `{"v":`+string(rune('0'+i))+`}`)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	c.waitFor(t, 5)
	v, seqs := c.snapshot()
	if len(v) != 5 {
		t.Logf("values %v, sequence numbers %v; connects/lost: subscriber %d/%d, publisher %d/%d", v, seqs,
			sub.Stats.Connects.Load(), sub.Stats.ConnLost.Load(), ps.Stats.Connects.Load(), ps.Stats.ConnLost.Load())
	}
	wantValues(t, v, 0, 5)

	// A wrong password is refused: Start does not connect.
	bad := o
	bad.ClientID, bad.Password = "tls-bad", "wrong"
	s, err := NewMQTTSource(bad, valueConfig(), func(*decode.Batch) {})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(0)
	ctx, cancel := contextWithTimeout(500 * time.Millisecond)
	defer cancel()
	if err := s.Start(ctx); err == nil {
		t.Fatal("connected with a wrong password")
	}
}
