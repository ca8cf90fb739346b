package natsd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// moveMQTTState moves the MQTT listener's streams ($MQTT_sess, $MQTT_msgs,
// $MQTT_rmsgs, …) that a version without accounts kept in the global
// account into SensorAccount, where MQTT clients now log in, so their
// persistent sessions and the QoS 1 messages queued for them survive the
// upgrade. A stream the sensor account already has is left alone. It
// runs before the server starts and returns the streams it moved.
func moveMQTTState(storeDir string) ([]string, error) {
	root := filepath.Join(storeDir, server.JetStreamStoreDir)
	from := filepath.Join(root, GatewayAccount, "streams")
	to := filepath.Join(root, SensorAccount, "streams")
	entries, err := os.ReadDir(from)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("natsd: mqtt state: %w", err)
	}
	var moved []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "$MQTT_") {
			continue
		}
		dst := filepath.Join(to, e.Name())
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := os.MkdirAll(to, 0o750); err != nil {
			return moved, fmt.Errorf("natsd: mqtt state: %w", err)
		}
		if err := os.Rename(filepath.Join(from, e.Name()), dst); err != nil {
			return moved, fmt.Errorf("natsd: mqtt state: %w", err)
		}
		moved = append(moved, e.Name())
	}
	return moved, nil
}
