//go:build !windows

package journal

import (
	"os"
	"path/filepath"
	"syscall"
)

// matchDirOwner gives the file at path the owner of its directory when
// root writes into another user's directory: `sudo posagent journal
// compact` (and stats or export, which may salvage and do stamp the
// journal) works on the service's /var/lib/posagent, and a journal left to
// root is one the service (user posagent) cannot open: it would not start.
func matchDirOwner(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	return os.Chown(path, int(st.Uid), int(st.Gid))
}
