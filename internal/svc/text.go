package svc

import (
	"fmt"
	"strings"

	"github.com/posagent/posagent/packaging"
)

// Paths the packaged service definitions name; install substitutes the
// running executable for them.
const (
	packagedLinuxExe  = "/usr/bin/posagent"
	packagedDarwinExe = "/usr/local/bin/posagent"
)

// UnitText is the systemd unit for an executable at exe: the packaged unit
// with its ExecStart pointing at exe.
func UnitText(exe string) (string, error) {
	return substituteExe(packaging.SystemdUnit, packagedLinuxExe, exe)
}

// PlistText is the launchd daemon definition for an executable at exe.
func PlistText(exe string) (string, error) {
	return substituteExe(packaging.LaunchdPlist, packagedDarwinExe, exe)
}

func substituteExe(text, packaged, exe string) (string, error) {
	if !strings.HasPrefix(exe, "/") {
		return "", fmt.Errorf("executable path %q is not absolute", exe)
	}
	// systemd splits ExecStart at spaces and interprets quotes, backslashes,
	// $ and %; launchd's XML would need escaping. A service binary in such a
	// path is rare enough to refuse with a clear fix instead.
	if strings.ContainsAny(exe, " \t\n\"'\\$%&<>;") {
		return "", fmt.Errorf("executable path %q contains spaces or special characters: move posagent to a plain path such as %s", exe, packaged)
	}
	if n := strings.Count(text, packaged); n != 1 {
		return "", fmt.Errorf("packaged service definition names %s %d times, want once (packaging/ is broken)", packaged, n)
	}
	return strings.Replace(text, packaged, exe, 1), nil
}
