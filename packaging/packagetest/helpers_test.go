package packagetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repo is the repository root, relative to this package's directory (the
// working directory of go test).
const repo = "../.."

// src returns the path of a file in the repository.
func src(parts ...string) string { return filepath.Join(append([]string{repo}, parts...)...) }

// read returns a repository file's contents.
func read(t *testing.T, parts ...string) string {
	t.Helper()
	b, err := os.ReadFile(src(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// packageMode reports whether the artifacts of make package are under test
// (POSAGENT_DIST set): then every tool the checks need must be installed.
func packageMode() bool { return os.Getenv("POSAGENT_DIST") != "" }

// dist returns the directory of the built artifacts, or skips the test when
// POSAGENT_DIST is not set.
func dist(t *testing.T) string {
	t.Helper()
	d := os.Getenv("POSAGENT_DIST")
	if d == "" {
		t.Skip("POSAGENT_DIST not set: run `make test-package` to build and check the packages")
	}
	return d
}

// env returns a variable make test-package sets, failing when it is empty.
func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s not set: run the artifact checks through `make test-package`", name)
	}
	return v
}

// need returns the path of tool, skipping the test when it is not installed
// (a failure in package mode: make package-deps installs it).
func need(t *testing.T, tool, apt string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if packageMode() {
			t.Fatalf("%s not found: make package-deps installs it (apt package %s)", tool, apt)
		}
		t.Skipf("%s not found (apt package %s): skipping", tool, apt)
	}
	return p
}

// run runs a command and returns its stdout, failing the test on a non-zero
// exit with stderr in the message.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, stderr, err := runErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return out
}

// runErr runs a command and returns stdout, stderr and the error.
func runErr(name string, args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// namespaceOK reports why mount-namespace checks cannot run here, or "".
// They need root (mounts) and unshare(1); a container without
// CAP_SYS_ADMIN refuses the mounts.
func namespaceOK() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return "no unshare(1)"
	}
	if _, _, err := runErr("unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt"); err != nil {
		return "mounts refused in a private mount namespace (container without CAP_SYS_ADMIN?)"
	}
	return ""
}
