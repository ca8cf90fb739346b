package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// RequireTmpfsEnv names the environment variable that turns Tmpfs's skip
// (mounting not permitted) into a failure; CI sets it (.ci/run), since CI
// runs as root.
const RequireTmpfsEnv = "EDGEPLANE_REQUIRE_TMPFS"

// Tmpfs mounts a tmpfs of size bytes on a new temp dir and returns the
// dir; it is unmounted when the test ends. Where mounting is not
// permitted (not root, no CAP_SYS_ADMIN) the test is skipped, unless
// EDGEPLANE_REQUIRE_TMPFS=1, when it fails.
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := "mount tmpfs: " + err.Error() + ": " + strings.TrimSpace(string(out))
		denied := os.Geteuid() != 0 || errors.Is(err, syscall.EPERM) ||
			strings.Contains(string(out), "permission denied") || strings.Contains(string(out), "must be superuser")
		if denied && os.Getenv(RequireTmpfsEnv) != "1" {
			t.Skipf("%s (needs root; set %s=1 to fail instead)", msg, RequireTmpfsEnv)
		}
		t.Fatal(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// FillDisk writes a file in dir until the filesystem is full (ENOSPC) and
// returns its path; remove it to give the space back.
func FillDisk(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Large writes until one fails, then pages, so that less than a page
	// is left.
	for _, size := range []int{64 << 10, 4 << 10} {
		buf := make([]byte, size)
		for {
			_, err := f.Write(buf)
			if err == nil {
				continue
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			break
		}
	}
	return path
}
