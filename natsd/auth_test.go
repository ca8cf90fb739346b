package natsd_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/edgeplane/edgeplane/natsd"
)

const aggStream = "EDGEPLANE_AGG"

func start(t *testing.T, o natsd.Options) *natsd.Server {
	t.Helper()
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	s, err := natsd.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// mqttClient connects to broker as user (anonymous when empty) and
// returns the client, or the connect error.
func mqttClient(t *testing.T, broker, id, user, pw string, tc *tls.Config) (mqtt.Client, error) {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetConnectRetry(false)
	if user != "" {
		o.SetUsername(user).SetPassword(pw)
	}
	if tc != nil {
		o.SetTLSConfig(tc)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("mqtt connect timed out")
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c, nil
}

func mqttPublish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt publish %s: %v", topic, tok.Error())
	}
}

// TestListenerClientsCannotTouchGatewayState is issue #16's attack: with
// both listeners open to anonymous clients, an MQTT publish to
// $JS/API/STREAM/PURGE/EDGEPLANE_AGG, a NATS purge request and forged
// frames on edgeplane.agg.<pipeline>.… through either listener leave the
// gateway's buffer stream exactly as it was.
func TestListenerClientsCannotTouchGatewayState(t *testing.T) {
	dir := t.TempDir()
	s := start(t, natsd.Options{StoreDir: dir, Listen: "127.0.0.1:0", MQTTListen: "127.0.0.1:0"})
	gw, err := s.Connect("gateway")
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	js, err := jetstream.New(gw)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: aggStream, Subjects: []string{"edgeplane.agg.>"}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := js.Publish(ctx, "edgeplane.agg.air.0", []byte("real")); err != nil {
			t.Fatal(err)
		}
	}

	// MQTT, anonymous: QoS 1, so each PUBACK comes after the server
	// handled the publish.
	mc, err := mqttClient(t, s.MQTTAddr(), "attacker", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	mqttPublish(t, mc, "$JS/API/STREAM/PURGE/"+aggStream, "")
	mqttPublish(t, mc, "$JS/API/STREAM/DELETE/"+aggStream, "")
	mqttPublish(t, mc, "edgeplane/agg/air/x", "forged")
	tok := mc.Subscribe("edgeplane/agg/#", 1, nil)
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("mqtt subscribe: no SUBACK")
	}
	if tok.Error() == nil && !subAckFailed(tok) {
		t.Fatal("mqtt subscription to the aggregate subjects was granted")
	}

	// NATS client listener, anonymous.
	var asyncErrs = make(chan error, 16)
	nc, err := nats.Connect(s.ClientURL(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErrs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Request("$JS.API.STREAM.PURGE."+aggStream, nil, 300*time.Millisecond); err == nil {
		t.Fatal("purge request through the NATS listener answered")
	}
	if err := nc.Publish("edgeplane.agg.air.x", []byte("forged")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := <-asyncErrs; !errors.Is(err, nats.ErrPermissionViolation) {
		t.Fatalf("NATS listener error %v, want a permissions violation", err)
	}
	if _, err := nc.SubscribeSync("edgeplane.agg.>"); err == nil {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-asyncErrs; !errors.Is(err, nats.ErrPermissionViolation) {
		t.Fatalf("NATS listener subscribe error %v, want a permissions violation", err)
	}
	// Whatever a listener client reaches in its own account, the
	// gateway's account has no such stream to touch.
	ljs, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := ljs.Stream(short, aggStream); err == nil {
		t.Fatal("a listener client sees the gateway's stream")
	}

	// The stream holds exactly the three real frames, also after a
	// restart of the server (the gateway's account keeps its store).
	check := func(js jetstream.JetStream) {
		t.Helper()
		st, err := js.Stream(ctx, aggStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 3 {
			t.Fatalf("stream holds %d messages, want the 3 real ones", info.State.Msgs)
		}
		for seq := uint64(1); seq <= 3; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil || string(m.Data) != "real" {
				t.Fatalf("message %d: %v %v", seq, m, err)
			}
		}
	}
	check(js)
	gw.Close()
	s.Shutdown()
	s2 := start(t, natsd.Options{StoreDir: dir})
	gw2, err := s2.Connect("gateway")
	if err != nil {
		t.Fatal(err)
	}
	defer gw2.Close()
	js2, err := jetstream.New(gw2)
	if err != nil {
		t.Fatal(err)
	}
	check(js2)
}

func subAckFailed(tok mqtt.Token) bool {
	st, ok := tok.(*mqtt.SubscribeToken)
	if !ok {
		return false
	}
	for _, q := range st.Result() {
		if q == 0x80 {
			return true
		}
	}
	return false
}

// TestListenerAuth: configured users, one with a bcrypt hash; a wrong
// password and no credentials are refused on both listeners, the right
// one accepted; a user's publish permission holds on both listeners;
// what sensors publish reaches ConnectSensors and not the gateway's
// account.
func TestListenerAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw-two"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, natsd.Options{Listen: "127.0.0.1:0", MQTTListen: "127.0.0.1:0", Users: []natsd.User{
		{Name: "s1", Password: "pw-one", Publish: []string{"city.>"}, Subscribe: []string{"cmd.s1.>"}},
		{Name: "s2", Password: string(hash)},
	}})
	for _, tc := range []struct{ user, pw string }{{"", ""}, {"s1", "wrong"}, {"s2", string(hash)}, {"nobody", "pw-one"}} {
		if nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(tc.user, tc.pw)); err == nil {
			nc.Close()
			t.Errorf("NATS listener let %q in with password %q", tc.user, tc.pw)
		}
		if _, err := mqttClient(t, s.MQTTAddr(), "c-"+tc.user, tc.user, tc.pw, nil); err == nil {
			t.Errorf("MQTT listener let %q in with password %q", tc.user, tc.pw)
		}
	}
	// The gateway's internal MQTT user is not a listener user over NATS.
	if nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(s.MQTTCredentials())); err == nil {
		nc.Close()
		t.Error("the internal MQTT user logged in on the NATS listener")
	}

	reader, err := s.ConnectSensors("reader")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	msgs := make(chan *nats.Msg, 16)
	for _, subj := range []string{"city.>", "other.>"} {
		if _, err := reader.ChanSubscribe(subj, msgs); err != nil {
			t.Fatal(err)
		}
	}
	if err := reader.Flush(); err != nil {
		t.Fatal(err)
	}
	gw, err := s.Connect("gateway")
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gsub, err := gw.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Flush(); err != nil {
		t.Fatal(err)
	}
	next := func(want string) {
		t.Helper()
		var m *nats.Msg
		select {
		case m = <-msgs:
		case <-time.After(5 * time.Second):
			t.Fatalf("waiting for %s", want)
		}
		if m.Subject != want {
			t.Fatalf("got %s, want %s (the one before it was not allowed)", m.Subject, want)
		}
	}

	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("s1", "pw-one"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatalf("s1 over NATS: %v", err)
	}
	defer nc.Close()
	for _, subj := range []string{"other.x", "city.d1.air"} {
		if err := nc.Publish(subj, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	next("city.d1.air")

	mc, err := mqttClient(t, s.MQTTAddr(), "s1-mqtt", "s1", "pw-one", nil)
	if err != nil {
		t.Fatalf("s1 over MQTT: %v", err)
	}
	mqttPublish(t, mc, "other/y", "{}")
	mqttPublish(t, mc, "city/d2/air", "{}")
	next("city.d2.air")
	// Its subscribe permission: its own command topics (cmd/s1/# also
	// subscribes cmd/s1, which cmd.s1.> allows), nothing else.
	for filter, ok := range map[string]bool{"cmd/s1/#": true, "cmd/s1/+": true, "city/#": false} {
		tok := mc.Subscribe(filter, 1, nil)
		if !tok.WaitTimeout(5 * time.Second) {
			t.Fatalf("subscribe %s: no SUBACK", filter)
		}
		if granted := tok.Error() == nil && !subAckFailed(tok); granted != ok {
			t.Errorf("s1 subscribing %s: granted %v, want %v", filter, granted, ok)
		}
	}

	mc2, err := mqttClient(t, s.MQTTAddr(), "s2-mqtt", "s2", "pw-two", nil)
	if err != nil {
		t.Fatalf("s2 (bcrypt) over MQTT: %v", err)
	}
	mqttPublish(t, mc2, "other/z", "{}")
	next("other.z")

	// The gateway's own MQTT user gets in (and may not publish).
	iu, ipw := s.MQTTCredentials()
	if _, err := mqttClient(t, s.MQTTAddr(), "internal", iu, ipw, nil); err != nil {
		t.Fatalf("internal MQTT user: %v", err)
	}
	if n, _, _ := gsub.Pending(); n != 0 {
		t.Fatalf("the gateway's account received %d sensor messages", n)
	}
	if _, err := reader.Request("city.x", nil, 100*time.Millisecond); err == nil {
		t.Fatal("the sensor reader connection may publish")
	}
}

// TestListenerTLS: with TLS both listeners refuse plain connections and
// serve TLS ones; the gateway's own MQTT client trusts the listener's
// certificate; in-process connections need no TLS.
func TestListenerTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	s := start(t, natsd.Options{Listen: "127.0.0.1:0", MQTTListen: "127.0.0.1:0",
		TLS: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}})
	if !strings.HasPrefix(s.MQTTAddr(), "ssl://") {
		t.Fatalf("MQTTAddr %s, want ssl://", s.MQTTAddr())
	}
	plain := "tcp://" + strings.TrimPrefix(s.MQTTAddr(), "ssl://")
	if _, err := mqttClient(t, plain, "plain", "", "", nil); err == nil {
		t.Fatal("plain MQTT accepted on a TLS listener")
	}
	if _, err := mqttClient(t, s.MQTTAddr(), "tls", "", "", &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}); err != nil {
		t.Fatalf("MQTT over TLS: %v", err)
	}
	user, pw := s.MQTTCredentials()
	if _, err := mqttClient(t, s.MQTTAddr(), "internal", user, pw, s.MQTTClientTLS()); err != nil {
		t.Fatalf("internal MQTT client over TLS: %v", err)
	}
	// A certificate other than the listener's is refused by the pin.
	other, _ := selfSigned(t)
	s2 := start(t, natsd.Options{MQTTListen: "127.0.0.1:0", TLS: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{other}}})
	if _, err := mqttClient(t, s2.MQTTAddr(), "pinned", user, pw, s.MQTTClientTLS()); err == nil {
		t.Fatal("the pinned client accepted another certificate")
	}

	// verify_clients: a client certificate signed by the CA is required.
	ca, caPool := selfSigned(t)
	clientCert := issueClient(t, ca)
	s3 := start(t, natsd.Options{Listen: "127.0.0.1:0", MQTTListen: "127.0.0.1:0", TLS: &tls.Config{MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{cert}, ClientCAs: caPool, ClientAuth: tls.RequireAndVerifyClientCert}})
	if _, err := mqttClient(t, s3.MQTTAddr(), "no-cert", "", "", &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}); err == nil {
		t.Fatal("verify_clients: a client without certificate got in")
	}
	if _, err := mqttClient(t, s3.MQTTAddr(), "with-cert", "", "", &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool,
		Certificates: []tls.Certificate{clientCert}}); err != nil {
		t.Fatalf("verify_clients: a client with a certificate: %v", err)
	}
	if nc, err := s3.Connect("gateway"); err != nil {
		t.Fatalf("verify_clients: in-process: %v", err)
	} else {
		nc.Close()
	}

	natsURL := s.ClientURL()
	if nc, err := nats.Connect(natsURL); err == nil {
		nc.Close()
		t.Fatal("plain NATS accepted on a TLS listener")
	}
	nc, err := nats.Connect(natsURL, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}))
	if err != nil {
		t.Fatalf("NATS over TLS: %v", err)
	}
	nc.Close()
	gw, err := s.Connect("gateway")
	if err != nil {
		t.Fatalf("in-process: %v", err)
	}
	gw.Close()
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "gw"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// issueClient returns a client certificate signed by ca.
func issueClient(t *testing.T, ca tls.Certificate) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "sensor"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Leaf, &key.PublicKey, ca.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
