//go:build !windows

package journal

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRootKeepsServiceOwner: `sudo posagent journal compact` (or stats or
// export, which salvage a damaged journal and stamp it) works on the
// service's state directory, owned by the service's user. Every file it
// puts in place of the journal must stay that user's, or the service can no
// longer open its journal and does not start.
func TestRootKeepsServiceOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (it is what `sudo posagent journal compact` does)")
	}
	const uid, gid = 65534, 65534 // nobody: stands in for the posagent user
	owned := func(t *testing.T, path string) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid {
			t.Errorf("%s is owned by %d:%d, want the service's %d:%d", filepath.Base(path), st.Uid, st.Gid, uid, gid)
		}
	}
	serviceJournal := func(t *testing.T) string {
		dir := t.TempDir()
		path := filepath.Join(dir, "journal.db")
		writeJournal(t, path, 50)
		for _, p := range []string{dir, path, path + cleanSuffix} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}

	t.Run("compact and stamp", func(t *testing.T) {
		path := serviceJournal(t)
		j, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := j.Compact(); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		owned(t, path)
		owned(t, path+cleanSuffix)
	})
	t.Run("salvage", func(t *testing.T) {
		path := serviceJournal(t)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Zero both meta pages: damaged, salvaged into a new file.
		if _, err := f.WriteAt(make([]byte, 2*4096), 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
		j, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if j.Report().MovedAside == "" {
			t.Fatal("the damaged journal was not salvaged")
		}
		j.Close()
		owned(t, path)
	})
}
