//go:build !windows

package bridge

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPairingsKeepServiceOwner: root approving an origin in the service's
// state directory leaves the file readable by the service's user.
func TestPairingsKeepServiceOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (it is what `sudo posagent pair` does)")
	}
	dir := t.TempDir()
	const uid, gid = 65534, 65534 // nobody: stands in for the posagent user
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPairings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Approve("https://pos.example.com", false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, PairingsFile))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pairings file %d:%d %v, want %d:%d 0600", st.Uid, st.Gid, fi.Mode().Perm(), uid, gid)
	}
}
