package natsd

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/edgeplane/edgeplane/record"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

// The server's accounts. The gateway's own state (the aggregate buffer
// stream, the dead-letter stream, the subjects edgeplane.>) lives in the
// server's global account, which only the gateway's in-process
// connections can log in to. Every client of a listener — a configured
// user or an anonymous one — lives in SensorAccount, which has JetStream
// only because the MQTT listener keeps its sessions there. Accounts share
// no subjects: nothing a listener client publishes reaches the gateway's
// account, whatever the subject.
const (
	// GatewayAccount is the account of the gateway's own connections
	// (Connect). It is the server's global account, so the buffer keeps
	// the store directory it always had.
	GatewayAccount = "$G"
	// SensorAccount is the account of every listener client and of
	// ConnectSensors.
	SensorAccount = "SENSORS"
	// AnonymousUser is the user a listener client that sends no
	// credentials is logged in as, when anonymous clients are allowed.
	AnonymousUser = "anonymous"
	// InternalMQTTUser is the MQTT user the gateway's own MQTT sources
	// log in as on the embedded listener (see MQTTCredentials).
	InternalMQTTUser = "edgeplane-internal"
)

// User is a listener user, for both the NATS client and the MQTT
// listener. Its publish and subscribe rights are in SensorAccount only.
type User struct {
	// Name is the user name (MQTT username, NATS user).
	Name string
	// Password is the password in clear, or its bcrypt hash ("$2a$…",
	// "$2b$…"), which the server compares against without ever storing the
	// clear text.
	Password string
	// Publish and Subscribe are the NATS subjects (wildcards * and >) the
	// user may publish and subscribe to; empty means any. An MQTT topic
	// a/b/c is the subject a.b.c, + is *, # is >; a subscribe permission
	// a.b.> also allows a.b, as the MQTT filter a/b/# matches a/b.
	// Whatever they say, the JetStream API, $SYS and edgeplane.> stay
	// denied.
	Publish, Subscribe []string
}

// Subjects never open to a listener client, whatever its permissions: the
// JetStream, KV and object store APIs (the account's MQTT sessions are
// kept in JetStream), the system subjects, the MQTT listener's internal
// subjects (publish only: the listener's own deliveries subscribe there)
// and the gateway's subject space. The gateway's account is out of reach
// anyway; these keep a client from disturbing the account's MQTT
// sessions.
var (
	deniedPublish   = []string{"$JS.>", "$JSC.>", "$KV.>", "$O.>", "$SYS.>", "$NRG.>", "$MQTT.>", "edgeplane.>"}
	deniedSubscribe = []string{"$JS.>", "$JSC.>", "$KV.>", "$O.>", "$SYS.>", "$NRG.>", "edgeplane.>"}
)

// ReservedUser reports whether name is used by the server itself and may
// not name a configured user.
func ReservedUser(name string) bool {
	return name == AnonymousUser || name == InternalMQTTUser
}

// Validate returns every problem of the options' users: names empty,
// reserved or repeated, subjects that are not valid NATS subjects, as
// record.OptionErrors (users[i].name, users[i].publish[j], …). A missing
// password is Start's to refuse (it may be read from a file later).
func (o *Options) Validate() error {
	var l record.OptionErrors
	seen := map[string]bool{}
	for i, u := range o.Users {
		at := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Name == "":
			l.Add(at+".name", "a user name is required")
		case ReservedUser(u.Name):
			l.Add(at+".name", fmt.Sprintf("%q is reserved for the gateway's own use", u.Name))
		case strings.ContainsAny(u.Name, " \t\r\n"):
			l.Add(at+".name", fmt.Sprintf("%q: a user name may not contain white space", u.Name))
		case seen[u.Name]:
			l.Add(at+".name", fmt.Sprintf("user %q is listed twice", u.Name))
		}
		seen[u.Name] = true
		for _, list := range []struct {
			key      string
			subjects []string
		}{{"publish", u.Publish}, {"subscribe", u.Subscribe}} {
			for j, s := range list.subjects {
				if !server.IsValidSubject(s) {
					l.Add(fmt.Sprintf("%s.%s[%d]", at, list.key, j), fmt.Sprintf("%q is not a valid NATS subject (the MQTT filter a/+/# is a.*.>)", s))
				}
			}
		}
	}
	return l.Err()
}

// identities are the gateway's own credentials for this server run,
// generated at Start and never written anywhere.
type identities struct {
	gateway, sensors nkeys.KeyPair // in-process users (nkeys)
	mqttPassword     string        // InternalMQTTUser's password
}

func newIdentities() (*identities, error) {
	gw, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	sn, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &identities{gateway: gw, sensors: sn, mqttPassword: hex.EncodeToString(b)}, nil
}

// nkeyOption logs a connection in as kp.
func nkeyOption(kp nkeys.KeyPair) (nats.Option, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	return nats.Nkey(pub, kp.Sign), nil
}

// accountsConf declares the sensors' account, with JetStream for the MQTT
// listener's sessions and no limits of its own: the server's max_store
// bounds it and the gateway's account together. The configuration
// language reserves the global account's name: enableGatewayJetStream
// turns JetStream on there.
const accountsConf = `accounts: { SENSORS: { jetstream: enabled } }`

// enableGatewayJetStream turns JetStream on in the gateway's (global)
// account once the server runs, which loads the streams it stored before.
func enableGatewayJetStream(srv *server.Server) error {
	acc := srv.GlobalAccount()
	if acc.JetStreamEnabled() {
		return nil
	}
	if err := acc.EnableJetStream(nil, nil); err != nil {
		return fmt.Errorf("natsd: jetstream in the gateway account: %w", err)
	}
	return nil
}

// configureAuth sets the accounts, users and permissions on so.
func configureAuth(so *server.Options, o *Options, ids *identities) error {
	if err := so.ProcessConfigString(accountsConf); err != nil {
		return fmt.Errorf("natsd: accounts: %w", err)
	}
	var sensors *server.Account
	for _, a := range so.Accounts {
		if a.Name == SensorAccount {
			sensors = a
		}
	}
	if sensors == nil {
		return errors.New("natsd: sensor account not declared")
	}
	inProcess := map[string]struct{}{jwt.ConnectionTypeInProcess: {}}
	gwPub, err := ids.gateway.PublicKey()
	if err != nil {
		return err
	}
	snPub, err := ids.sensors.PublicKey()
	if err != nil {
		return err
	}
	so.Nkeys = []*server.NkeyUser{
		// Account nil: the global account.
		{Nkey: gwPub, AllowedConnectionTypes: inProcess},
		{Nkey: snPub, Account: sensors, AllowedConnectionTypes: inProcess,
			Permissions: permissions(nil, []string{">"}, nil)},
	}
	// bcrypt's minimum cost: the password is 256 random bits, the hash
	// only keeps the server from warning about a clear-text password.
	mqttHash, err := bcrypt.GenerateFromPassword([]byte(ids.mqttPassword), bcrypt.MinCost)
	if err != nil {
		return err
	}
	so.Users = []*server.User{{Username: InternalMQTTUser, Password: string(mqttHash), Account: sensors,
		AllowedConnectionTypes: map[string]struct{}{jwt.ConnectionTypeMqtt: {}},
		Permissions:            permissions(nil, []string{">"}, nil)}}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("natsd: %w", err)
	}
	listener := map[string]struct{}{jwt.ConnectionTypeStandard: {}, jwt.ConnectionTypeMqtt: {}}
	for _, u := range o.Users {
		if u.Password == "" {
			return fmt.Errorf("natsd: user %q has no password", u.Name)
		}
		so.Users = append(so.Users, &server.User{Username: u.Name, Password: u.Password, Account: sensors,
			AllowedConnectionTypes: listener, Permissions: permissions(u.Publish, nil, mqttParents(u.Subscribe))})
	}
	if o.AllowAnonymous || len(o.Users) == 0 {
		so.Users = append(so.Users, &server.User{Username: AnonymousUser, Account: sensors,
			AllowedConnectionTypes: listener, Permissions: permissions(nil, nil, nil)})
		so.NoAuthUser = AnonymousUser
	}
	return nil
}

// mqttParents adds, for each subject a.b.> of subs, the subject a.b: an
// MQTT subscription to a/b/# also matches a/b, and the MQTT listener
// subscribes both, so a permission written a.b.> must allow both.
func mqttParents(subs []string) []string {
	out := slices.Clone(subs)
	for _, s := range subs {
		if p, ok := strings.CutSuffix(s, ".>"); ok && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// permissions are a listener client's: pubAllow and subAllow (nil: any),
// pubDeny added to deniedPublish.
func permissions(pubAllow, pubDeny, subAllow []string) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: slices.Clone(pubAllow), Deny: slices.Concat(deniedPublish, pubDeny)},
		Subscribe: &server.SubjectPermission{Allow: slices.Clone(subAllow), Deny: slices.Clone(deniedSubscribe)},
	}
}

// pinnedTLS is a client configuration that trusts exactly the certificate
// cert: for the gateway's own MQTT sources on its embedded listener, which
// may be reached at an address the certificate does not name.
func pinnedTLS(cert *tls.Certificate) *tls.Config {
	if cert == nil || len(cert.Certificate) == 0 {
		return nil
	}
	want := sha256.Sum256(cert.Certificate[0])
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // VerifyPeerCertificate pins the listener's own certificate
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) > 0 && sha256.Sum256(raw[0]) == want {
				return nil
			}
			return errors.New("natsd: the MQTT listener presented a certificate other than its own")
		},
	}
}
