//go:build !headless

package ui

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCLocaleIsQuiet starts this test binary again under the locales
// Debian images and services commonly have: fyne must not log a locale
// error at start, and LANG must be what the process was given.
func TestCLocaleIsQuiet(t *testing.T) {
	if os.Getenv("POSAGENT_LOCALE_CHILD") != "" {
		fmt.Printf("LANG=%s\n", os.Getenv("LANG"))
		return
	}
	for _, lang := range []string{"C.UTF-8", "C", "POSIX", "de_DE.UTF-8"} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestCLocaleIsQuiet$", "-test.v")
		cmd.Env = []string{"POSAGENT_LOCALE_CHILD=1", "LANG=" + lang, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("LANG=%s: %v\n%s", lang, err, out)
		}
		if strings.Contains(string(out), "Fyne error") {
			t.Errorf("LANG=%s: fyne logged a locale error:\n%s", lang, out)
		}
		if !strings.Contains(string(out), "LANG="+lang+"\n") {
			t.Errorf("LANG=%s not restored:\n%s", lang, out)
		}
	}
}
