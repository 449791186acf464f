//go:build !windows

package statedir

import (
	"os"
	"path/filepath"
	"syscall"
)

// MatchOwner gives the file at path the owner of its directory when root
// writes into another user's directory; for anyone else it does nothing.
func MatchOwner(path string) error {
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
