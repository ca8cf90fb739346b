package config

import (
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/edgeplane/edgeplane/internal/disk"
)

// The disk budget. JetStream reserves each stream's max_bytes against its
// storage limit when the stream is created and refuses a stream that does
// not fit, so the gateway does not start. The limit is nats.max_store when
// set, else 75% of what is free on data_dir's filesystem when the server
// starts plus 75% of what its store already holds (nats-server settles the
// limit so once it has recovered its streams). The streams that reserve
// are the buffer (buffer.max_bytes) and, only when a source has
// dead_letter on, the dead-letter stream (DeadLetterMaxBytes).

// diskSpace measures a path's filesystem; tests replace it to inject a
// free-space figure.
var diskSpace = disk.Space

// storageLimit is JetStream's storage limit for c, how it was found and
// how to raise it; ok is false when it cannot be known here (no statfs).
func (c *Config) storageLimit() (limit int64, how, fix string, ok bool) {
	if c.NATS.MaxStore > 0 {
		return int64(c.NATS.MaxStore), "nats.max_store", "raise nats.max_store", true
	}
	u, err := diskSpace(c.Gateway.DataDir)
	if err != nil {
		return 0, "", "", false
	}
	held := storeBytes(filepath.Join(c.Gateway.DataDir, "jetstream"))
	limit = int64(u.Free/4*3) + held/4*3
	how = fmt.Sprintf("75%% of the %s free on %s", size(int64(u.Free)), u.Path)
	if held > 0 {
		how += fmt.Sprintf(" and of the %s its store holds", size(held))
	}
	return limit, how, "free space on " + u.Path, true
}

// storeBytes sums the sizes of the files under dir (0 if none).
func storeBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// usesDeadLetters reports whether a source has dead_letter on, so that
// the dead-letter stream exists and reserves DeadLetterMaxBytes.
func (c *Config) usesDeadLetters() bool {
	for i := range c.Sources {
		if c.Sources[i].DeadLetter {
			return true
		}
	}
	return false
}

// BufferMaxBytesFor returns the default buffer.max_bytes for a JetStream
// storage limit: 80% of what the limit leaves after the dead-letter
// stream's reservation (when deadLetters), leaving room for the embedded
// MQTT listener's streams, rounded down to a MiB; at most
// DefaultBufferMaxBytes and at least 1 MiB.
func BufferMaxBytesFor(limit int64, deadLetters bool) int64 {
	if deadLetters {
		limit -= DeadLetterMaxBytes
	}
	b := (limit / 5 * 4) &^ (1<<20 - 1)
	return max(1<<20, min(b, DefaultBufferMaxBytes))
}

// defaultBufferMaxBytes is buffer.max_bytes when the file leaves it out:
// BufferMaxBytesFor the storage limit, or DefaultBufferMaxBytes when the
// limit cannot be known.
func (c *Config) defaultBufferMaxBytes() ByteSize {
	limit, _, _, ok := c.storageLimit()
	if !ok {
		return DefaultBufferMaxBytes
	}
	return ByteSize(BufferMaxBytesFor(limit, c.usesDeadLetters()))
}

// BufferMaxBytesDerived reports whether buffer.max_bytes was left out and
// derived from the disk when the config was loaded. The figure moves with
// the free space, so a reload keeps the running value instead.
func (c *Config) BufferMaxBytesDerived() bool { return c.bufferDerived }

// checkDiskBudget reports streams that would not fit JetStream's storage
// limit, with the arithmetic.
func (c *Config) checkDiskBudget(ps *problems) {
	limit, how, fix, ok := c.storageLimit()
	if !ok {
		return
	}
	need := int64(c.NATS.Buffer.MaxBytes)
	what := "buffer.max_bytes " + size(need)
	if c.usesDeadLetters() {
		need += DeadLetterMaxBytes
		what += " + the dead-letter stream's " + size(DeadLetterMaxBytes) + " (a source has dead_letter on) = " + size(need)
	}
	if need <= limit {
		return
	}
	path := "nats.buffer.max_bytes"
	if !c.Has(path) {
		path = "gateway.data_dir"
	}
	room := limit
	if c.usesDeadLetters() {
		room -= DeadLetterMaxBytes
	}
	switch {
	case room > 0:
		fix = "set buffer.max_bytes to at most " + size(room) + " or " + fix
	case c.usesDeadLetters():
		fix = "turn dead_letter off or " + fix
	}
	ps.add(path, "%s exceeds JetStream's storage limit of %s (%s), which would refuse the stream at start; %s",
		what, size(limit), how, fix)
}

// size formats n bytes in the largest binary unit, one decimal.
func size(n int64) string {
	f, units := float64(n), []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for ; i < len(units)-1 && (f >= 1024 || f <= -1024); i++ {
		f /= 1024
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
