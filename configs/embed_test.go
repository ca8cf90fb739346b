package configs_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/configs"
)

// TestEmbedded: the embedded files are the ones in this directory, the
// schema is JSON, and the demo config loads.
func TestEmbedded(t *testing.T) {
	for name, b := range map[string][]byte{"edgeplane.schema.json": configs.Schema, "demo.yaml": configs.Demo} {
		disk, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || !bytes.Equal(b, disk) {
			t.Errorf("embedded %s (%d bytes) differs from the file (%d bytes)", name, len(b), len(disk))
		}
	}
	if !json.Valid(configs.Schema) {
		t.Error("the embedded schema is not JSON")
	}
	c, err := config.LoadBytes(configs.DemoName, configs.Demo, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the embedded demo config does not load:\n%v", err)
	}
	if c.File != configs.DemoName || len(c.Sources) == 0 || len(c.Pipelines) == 0 {
		t.Fatalf("demo config: file %q, %d sources, %d pipelines", c.File, len(c.Sources), len(c.Pipelines))
	}
}
