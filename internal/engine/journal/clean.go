package journal

// The clean-close stamp. The damage check (salvage.go) reads every page of
// the file: at 500,000 records it took 0.3 s and read the whole file into
// memory (370 MB) at every start, so a lane's start time and memory grew
// with its history. The check is only needed when the file may have
// changed since it was last known good, so:
//
//   - Close, after the last commit of a run in which every commit
//     succeeded, sets the file's modification time to a value of its own
//     (the close time with random nanoseconds) and writes that time and
//     the file's size to path.clean;
//   - Open skips the check when the file still has exactly that size and
//     modification time.
//
// Any later write — this agent's next commit, a copy over the file, an
// editor, a truncation — gives the file the kernel's clock time as its
// modification time, which matches the stamp's random nanoseconds with a
// chance of one in a billion; a run that is killed never stamps, so its
// file is checked at the next start (a crash between two commits cannot
// damage a bbolt file, but a disk that lies about fsync can). What the
// stamp cannot see is a change that keeps the size and restores the exact
// modification time, or a bit that rots on the disk while the agent is
// stopped: a page damaged so is met by a read like any damage met at run
// time.

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"os"
	"time"

	"github.com/posagent/posagent/internal/statedir"
)

// cleanSuffix names the stamp file beside the journal.
const cleanSuffix = ".clean"

type cleanStamp struct {
	Size    int64 `json:"size"`
	ModTime int64 `json:"mtime_unix_nano"`
}

// stampedClean reports whether the file at path is exactly as a clean
// Close left it.
func stampedClean(path string) bool {
	b, err := os.ReadFile(path + cleanSuffix)
	if err != nil {
		return false
	}
	var s cleanStamp
	if json.Unmarshal(b, &s) != nil {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Size() == s.Size && fi.ModTime().UnixNano() == s.ModTime
}

// stampClean stamps the closed file at path as known good.
func stampClean(path string) error {
	var nonce [4]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	mtime := time.Now().Truncate(time.Second).Add(time.Duration(binary.NativeEndian.Uint32(nonce[:]) % uint32(time.Second)))
	// A zero access time leaves it unchanged.
	if err := os.Chtimes(path, time.Time{}, mtime); err != nil {
		return err
	}
	// Read back what the filesystem kept (some round the time).
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	b, err := json.Marshal(cleanStamp{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()})
	if err != nil {
		return err
	}
	tmp := path + cleanSuffix + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	// Root's stamp on the service's journal: the service must read it.
	if err := statedir.MatchOwner(tmp); err != nil {
		return err
	}
	// A torn or lost stamp only means a full check at the next start: no
	// fsync needed.
	return os.Rename(tmp, path+cleanSuffix)
}

// takeStamp reports whether the file at path is exactly as a clean Close
// left it, and removes the stamp: it describes that one closed state.
// A stamp that cannot be removed is harmless — the first commit of this
// run changes the file's modification time — so the error is ignored.
func takeStamp(path string) bool {
	clean := stampedClean(path)
	_ = os.Remove(path + cleanSuffix)
	return clean
}
