//go:build !windows

package bridge

import (
	"os"
	"syscall"
)

// matchDirOwner gives f the owner of dir when root writes into another
// user's directory: `sudo posagent pair` edits the service's pairings in
// /var/lib/posagent, which the service (user posagent) must still be able
// to read. A file left to root would lock every paired page out.
func matchDirOwner(f *os.File, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
