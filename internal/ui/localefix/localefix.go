package localefix

import (
	"os"
	"strings"
)

var (
	changed  string // the variable set to "en", if any
	original string
)

func init() {
	// The order go-locale (fyne's dependency) consults them in.
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		base, _, _ := strings.Cut(v, ".")
		base, _, _ = strings.Cut(base, "@")
		if base == "C" || base == "POSIX" {
			changed, original = k, v
			os.Setenv(k, "en")
		}
		return
	}
}

// Restore puts the environment back as the process found it.
func Restore() {
	if changed != "" {
		os.Setenv(changed, original)
		changed = ""
	}
}
