package pipeline_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

const tlsListenerConfig = `
gateway:
  id: gw-test
  data_dir: %s
  telemetry_interval: "off"
nats:
  mqtt_listen: 0.0.0.0:0
  auth:
    users:
      - user: sensor
        password_file: %s
        publish: ["city.>"]
  tls:
    cert_file: %s
    key_file: %s
kafka:
  brokers: ["127.0.0.1:9"]
  auto_create_topics: true
sources:
  - name: air
    mqtt:
      broker: embedded
      topics: ["city/+/air/+"]
      qos: 1
      clean_session: false
      hold_acks: true
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      fields: [{name: pm25}, {name: pm10}]
pipelines:
  - name: air10
    from: [air]
    fields: [pm25]
    window: {type: tumbling, size: 10s, out_of_orderness: 2s, idle_timeout: 1h, watermark: pipeline}
    aggregates: [count, sum, min, max, mean]
    to: {topic: test.air}
`

// TestTLSListenerEndToEnd: the MQTT listener on all addresses with TLS
// and a user whose password is in a file. A sensor publishes over TLS
// with that user; the gateway's own MQTT source on the embedded listener
// (held acks, QoS 1) logs in with its internal user and the pinned
// certificate; the exact aggregates reach Kafka. A plain connection and a
// wrong password are refused.
func TestTLSListenerEndToEnd(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeServerCert(t, dir)
	pwFile := filepath.Join(dir, "sensor.pw")
	if err := os.WriteFile(pwFile, []byte("file-S3CRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kc := testenv.Kafka(t)
	cfg := fmt.Sprintf(tlsListenerConfig, "%s", pwFile, certFile, keyFile)
	g := startGateway(t, cfg, kc.ListenAddrs())
	addr := g.MQTTAddr()
	if !strings.HasPrefix(addr, "ssl://") {
		t.Fatalf("MQTTAddr %s, want ssl://", addr)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(addr, "ssl://"))
	broker := "ssl://127.0.0.1:" + port
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	login := func(id, scheme, pw string) (mqtt.Client, error) {
		b := broker
		if scheme == "tcp" {
			b = "tcp://127.0.0.1:" + port
		}
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b).SetClientID(id).SetCleanSession(true).
			SetUsername("sensor").SetPassword(pw).SetTLSConfig(tc).SetAutoReconnect(false).
			SetConnectRetry(false).SetConnectTimeout(5 * time.Second))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return nil, fmt.Errorf("connect: %v", tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(50) })
		return c, nil
	}
	if _, err := login("plain", "tcp", "file-S3CRET"); err == nil {
		t.Fatal("plain MQTT accepted")
	}
	if _, err := login("wrong", "ssl", "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	pub, err := login("sensor-1", "ssl", "file-S3CRET")
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if r := g.Ready(); !r.Ready {
			return fmt.Errorf("not ready: %+v", r)
		}
		return nil
	})
	sc := newTumblingScenario()
	for _, m := range sc.messages {
		publish(t, pub, m[0], m[1])
	}
	recs := testenv.Consume(t, kc.ListenAddrs(), "test.air", len(sc.want), 30*time.Second)
	var got []kv
	for _, r := range recs {
		got = append(got, kv{key: string(r.Key), value: string(r.Value), idHeader: testenv.Header(r, "id")})
	}
	sc.check(t, got)
}

// writeServerCert writes a self-signed certificate for 127.0.0.1 and its
// key to dir and returns their paths and a pool trusting it.
func writeServerCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gw-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "gw.crt"), filepath.Join(dir, "gw.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}
