package packagetest

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/posagent/posagent/packaging"
)

// debArch describes what the .deb of one architecture must hold.
type debArch struct {
	arch    string
	machine elf.Machine
	gui     bool // the full build with the cashier window (else headless)
}

var debArches = []debArch{
	{"amd64", elf.EM_X86_64, true},
	{"arm64", elf.EM_AARCH64, false},
}

// guiDepends are the cashier window's libraries: fyne links libGL and
// libX11, and GLFW opens the other X11 extensions at run time (so they are
// not in the binary's DT_NEEDED but must be installed).
var guiDepends = []string{"libgl1", "libx11-6", "libxcursor1", "libxrandr2", "libxinerama1", "libxi6", "libxxf86vm1"}

// sonamePackage maps each library the binaries may link to the Debian
// package providing it; a new DT_NEEDED entry fails the test until it is
// added here and to nfpm.yaml's depends.
var sonamePackage = map[string]string{
	"libc.so.6": "libc6", "libm.so.6": "libc6", "libpthread.so.0": "libc6", "libdl.so.2": "libc6",
	"libresolv.so.2": "libc6", "ld-linux-x86-64.so.2": "libc6", "ld-linux-aarch64.so.1": "libc6",
	"libGL.so.1": "libgl1", "libX11.so.6": "libx11-6", "libXcursor.so.1": "libxcursor1",
	"libXrandr.so.2": "libxrandr2", "libXinerama.so.1": "libxinerama1", "libXi.so.6": "libxi6",
	"libXxf86vm.so.1": "libxxf86vm1",
}

// debPath returns the .deb of arch in dist, failing when a required one is
// missing. arm64 is built where aarch64-linux-gnu-gcc is installed.
func debPath(t *testing.T, arch string) string {
	t.Helper()
	d := dist(t)
	p := filepath.Join(d, "posagent_"+env(t, "POSAGENT_DEB_VERSION")+"_"+arch+".deb")
	if _, err := os.Stat(p); err != nil {
		if _, ccErr := exec.LookPath("aarch64-linux-gnu-gcc"); arch == "arm64" && ccErr != nil {
			t.Skip("no arm64 .deb: aarch64-linux-gnu-gcc is not installed (make package-deps as root)")
		}
		t.Fatalf("missing artifact: %v", err)
	}
	return p
}

// debFiles lists the package's paths with mode and owner (dpkg-deb -c).
func debFiles(t *testing.T, deb string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		files[strings.TrimPrefix(f[len(f)-1], ".")] = f[0] + " " + f[1]
	}
	return files
}

func TestDebContents(t *testing.T) {
	for _, a := range debArches {
		t.Run(a.arch, func(t *testing.T) {
			need(t, "dpkg-deb", "dpkg")
			deb := debPath(t, a.arch)
			files := debFiles(t, deb)
			want := map[string]string{
				"/usr/bin/posagent":                        "-rwxr-xr-x root/root",
				"/usr/lib/systemd/system/posagent.service": "-rw-r--r-- root/root",
				"/usr/lib/udev/rules.d/60-posagent.rules":  "-rw-r--r-- root/root",
				"/usr/lib/sysusers.d/posagent.conf":        "-rw-r--r-- root/root",
				"/usr/lib/modules-load.d/posagent.conf":    "-rw-r--r-- root/root",
				// root:root in the archive; postinst gives it group posagent.
				"/etc/posagent/posagent.toml":             "-rw-r----- root/root",
				"/usr/share/doc/posagent/README.md":       "-rw-r--r-- root/root",
				"/usr/share/doc/posagent/docs/readers.md": "-rw-r--r-- root/root",
			}
			gui := map[string]string{
				"/usr/share/applications/posagent.desktop":           "-rw-r--r-- root/root",
				"/usr/share/icons/hicolor/256x256/apps/posagent.png": "-rw-r--r-- root/root",
			}
			for p, mode := range want {
				if files[p] != mode {
					t.Errorf("%s: %q, want %q", p, files[p], mode)
				}
			}
			for p, mode := range gui {
				if a.gui && files[p] != mode {
					t.Errorf("%s: %q, want %q", p, files[p], mode)
				}
				if !a.gui && files[p] != "" {
					t.Errorf("the headless package has %s", p)
				}
			}
			docs, _ := filepath.Glob(src("docs", "*.md"))
			for _, d := range docs {
				if p := "/usr/share/doc/posagent/docs/" + filepath.Base(d); files[p] == "" {
					t.Errorf("missing %s", p)
				}
			}

			// Control fields.
			fields := map[string]string{}
			for _, f := range []string{"Package", "Version", "Architecture", "Depends"} {
				fields[f] = strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, f))
			}
			depends := "libc6 (>= 2.34)"
			if a.gui {
				depends += ", " + strings.Join(guiDepends, ", ")
			}
			wantFields := map[string]string{"Package": "posagent", "Version": env(t, "POSAGENT_DEB_VERSION"),
				"Architecture": a.arch, "Depends": depends}
			for f, v := range wantFields {
				if fields[f] != v {
					t.Errorf("%s: %q, want %q", f, fields[f], v)
				}
			}

			// conffiles and maintainer scripts.
			ctl := t.TempDir()
			run(t, "dpkg-deb", "-e", deb, ctl)
			conffiles, err := os.ReadFile(filepath.Join(ctl, "conffiles"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Fields(string(conffiles)); !slices.Equal(got, []string{"/etc/posagent/posagent.toml"}) {
				t.Errorf("conffiles %q, want /etc/posagent/posagent.toml only", got)
			}
			for _, s := range maintainerScripts {
				b, err := os.ReadFile(filepath.Join(ctl, s))
				if err != nil {
					t.Errorf("no %s: %v", s, err)
					continue
				}
				if string(b) != read(t, "packaging/linux/scripts", s) {
					t.Errorf("the package's %s differs from packaging/linux/scripts/%s", s, s)
				}
			}
		})
	}
}

// TestDebBinary: the right machine, every linked library provided by
// Depends, and a glibc minimum that covers every versioned symbol.
func TestDebBinary(t *testing.T) {
	for _, a := range debArches {
		t.Run(a.arch, func(t *testing.T) {
			need(t, "dpkg-deb", "dpkg")
			deb := debPath(t, a.arch)
			root := t.TempDir()
			run(t, "dpkg-deb", "-x", deb, root)
			f, err := elf.Open(filepath.Join(root, "usr/bin/posagent"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != a.machine {
				t.Errorf("machine %v, want %v", f.Machine, a.machine)
			}
			depends := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, "Depends"))
			libs, err := f.ImportedLibraries()
			if err != nil {
				t.Fatal(err)
			}
			for _, lib := range libs {
				pkg, ok := sonamePackage[lib]
				if !ok {
					t.Errorf("the binary links %s: add its package to nfpm.yaml's depends and to sonamePackage", lib)
					continue
				}
				if !slices.Contains(strings.Split(depends, ", "), pkg) && !strings.Contains(depends, pkg+" (") {
					t.Errorf("the binary links %s but Depends (%s) lacks %s", lib, depends, pkg)
				}
				if !a.gui && pkg != "libc6" {
					t.Errorf("the headless binary links %s", lib)
				}
			}
			// The newest GLIBC_x.y symbol version the binary needs.
			syms, err := f.DynamicSymbols()
			if err != nil {
				t.Fatal(err)
			}
			newest := [2]int{}
			for _, s := range syms {
				if v, ok := glibcVersion(s.Version); ok && (v[0] > newest[0] || v[0] == newest[0] && v[1] > newest[1]) {
					newest = v
				}
			}
			m := regexp.MustCompile(`libc6 \(>= (\d+)\.(\d+)\)`).FindStringSubmatch(depends)
			if m == nil {
				t.Fatalf("Depends %q has no libc6 (>= X.Y)", depends)
			}
			major, _ := strconv.Atoi(m[1])
			minor, _ := strconv.Atoi(m[2])
			if newest[0] > major || newest[0] == major && newest[1] > minor {
				t.Errorf("the binary needs GLIBC_%d.%d, Depends says libc6 (>= %d.%d)", newest[0], newest[1], major, minor)
			}
		})
	}
}

func glibcVersion(s string) ([2]int, bool) {
	rest, ok := strings.CutPrefix(s, "GLIBC_")
	if !ok {
		return [2]int{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 2 {
		return [2]int{}, false
	}
	a, err1 := strconv.Atoi(parts[0])
	b, err2 := strconv.Atoi(parts[1])
	return [2]int{a, b}, err1 == nil && err2 == nil
}

// installRoot installs the amd64 .deb into a throwaway root and returns it.
// As root it is a real dpkg install (dpkg --root, maintainer scripts run
// chrootless with DPKG_ROOT set: the posagent user is created in the root's
// /etc/passwd, the conffile gets its group, the unit is enabled offline);
// otherwise the files are extracted with dpkg-deb -x.
func installRoot(t *testing.T) (root string, dpkgInstalled bool) {
	t.Helper()
	need(t, "dpkg-deb", "dpkg")
	deb := debPath(t, "amd64")
	root = t.TempDir()
	if os.Geteuid() != 0 {
		t.Log("not root: extracting with dpkg-deb -x instead of dpkg --root (maintainer scripts not run)")
		run(t, "dpkg-deb", "-x", deb, root)
		return root, false
	}
	for _, d := range []string{"var/lib/dpkg/updates", "var/lib/dpkg/info", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A root with the base system's users and groups (dialout, nogroup...).
	for _, f := range []string{"passwd", "group"} {
		b, err := os.ReadFile("/etc/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc", f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// --force-depends: the root has no libc6 etc. registered.
	run(t, "dpkg", "--root="+root, "--force-script-chrootless", "--force-depends", "--log=/dev/null", "-i", deb)
	return root, true
}

// TestInstall installs the package, checks what the maintainer scripts did,
// runs the installed binary, and (as root) purges it again.
func TestInstall(t *testing.T) {
	root, dpkgInstalled := installRoot(t)
	bin := filepath.Join(root, "usr/bin/posagent")

	// version: the Makefile's VERSION.
	out := run(t, bin, "version", "--json")
	var v struct {
		Version, Platform string
		Tags              string `json:"build_tags"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if want := env(t, "POSAGENT_VERSION"); v.Version != want || v.Platform != "linux/amd64" {
		t.Errorf("installed binary reports %q on %q, want %q on linux/amd64", v.Version, v.Platform, want)
	}
	// The window build, with make build's tags (POSAGENT_GUI_TAGS, may be empty).
	if want := os.Getenv("POSAGENT_GUI_TAGS"); v.Tags != want {
		t.Errorf("the amd64 binary was built with tags %q, want %q (make build's GUI_TAGS)", v.Tags, want)
	}

	// decode on real captures gives exactly the golden output of cmd/posagent.
	samples := []struct {
		file string
		args []string
	}{
		{"seed_idtech.txt", nil},
		{"seed_magnesafe.txt", nil},
		{"magtek_v5_hid_report_856.hex", []string{"--format", "magtek-hid"}},
		{"idtech_vp3300_contact_emv_tlv.hex", nil},
	}
	for _, s := range samples {
		args := append(append([]string{"decode"}, s.args...), src("internal/decrypt/testdata", s.file))
		got := run(t, bin, args...)
		golden := read(t, "cmd/posagent/testdata/golden", strings.TrimSuffix(s.file, filepath.Ext(s.file))+".json")
		if got != golden {
			t.Errorf("decode %s differs from its golden file:\n%s", s.file, got)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(got), &m); err != nil || m["masked_pan"] == "" || m["format"] == "" {
			t.Errorf("decode %s: no masked_pan/format (%v)", s.file, err)
		}
	}

	// postinst starts the service only when `run --check-config` accepts the
	// config: the template as shipped is refused with exit 78 (EX_CONFIG)
	// and the missing credentials; filled in, it is accepted.
	conf := filepath.Join(root, "etc/posagent/posagent.toml")
	_, stderr, err := runErr(bin, "run", "--check-config", "--config", conf)
	if code := exitCode(err); code != 78 || !strings.Contains(stderr, "gateway.user_id: missing") {
		t.Errorf("check-config on the template: exit %d (want 78), stderr:\n%s", code, stderr)
	}
	filled := packaging.ConfigTemplate
	for _, k := range []string{"developer_id", "user_id", "user_api_key", "location_id"} {
		filled = strings.Replace(filled, "\n"+k+` = ""`, "\n"+k+` = "x"`, 1)
	}
	filledPath := filepath.Join(t.TempDir(), "posagent.toml")
	if err := os.WriteFile(filledPath, []byte(filled), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runErr(bin, "run", "--check-config", "--config", filledPath); err != nil {
		t.Errorf("check-config on the filled-in template: %v\n%s", err, stderr)
	}

	// The installed files are the ones `posagent service install` writes.
	for path, want := range map[string]string{
		"usr/lib/systemd/system/posagent.service": packaging.SystemdUnit,
		"usr/lib/udev/rules.d/60-posagent.rules":  packaging.UdevRules,
		"usr/lib/sysusers.d/posagent.conf":        packaging.Sysusers,
		"etc/posagent/posagent.toml":              packaging.ConfigTemplate,
	} {
		if b, err := os.ReadFile(filepath.Join(root, path)); err != nil || string(b) != want {
			t.Errorf("/%s differs from the embedded copy in package packaging (%v)", path, err)
		}
	}

	// The installed unit against the installed binary.
	verifyUnit(t, packaging.SystemdUnit, bin)

	if !dpkgInstalled {
		return
	}
	group := filepath.Join(root, "etc/group")
	udevadmCheck(t, filepath.Join(root, "usr/lib/udev/rules.d/60-posagent.rules"), group)
	checkScriptsEffects(t, root)
}

// checkScriptsEffects checks what postinst did in the dpkg --root install,
// then purges the package and checks postrm undid it.
func checkScriptsEffects(t *testing.T, root string) {
	t.Helper()
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	groups, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	user := regexp.MustCompile(`(?m)^posagent:x:(\d+):(\d+):[^:]*:/var/lib/posagent:/usr/sbin/nologin$`).FindSubmatch(passwd)
	group := regexp.MustCompile(`(?m)^posagent:x:(\d+):`).FindSubmatch(groups)
	if user == nil || group == nil {
		t.Fatalf("postinst did not create the posagent system user and group:\n%s", passwd)
	}
	if !bytes.Equal(user[2], group[1]) {
		t.Errorf("posagent's primary group is %s, not group posagent (%s)", user[2], group[1])
	}
	st, err := os.Stat(filepath.Join(root, "etc/posagent/posagent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "etc/posagent/posagent.toml")
	if gid := strings.TrimSpace(run(t, "stat", "-c", "%g", conf)); gid != string(group[1]) || st.Mode().Perm() != 0o640 {
		t.Errorf("posagent.toml: gid %s mode %v, want gid %s (posagent) mode 0640", gid, st.Mode().Perm(), group[1])
	}
	wants := filepath.Join(root, "etc/systemd/system/multi-user.target.wants/posagent.service")
	if _, err := os.Lstat(wants); err != nil {
		if _, lookErr := exec.LookPath("systemctl"); lookErr == nil {
			t.Errorf("the service is not enabled for the next boot: %v", err)
		}
	}

	// Purge: state, user, group, config and enablement go.
	if err := os.MkdirAll(filepath.Join(root, "var/lib/posagent"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/posagent/journal.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "dpkg", "--root="+root, "--force-script-chrootless", "--force-depends", "--log=/dev/null", "--purge", "posagent")
	for _, p := range []string{"var/lib/posagent", "etc/posagent", "usr/bin/posagent", "etc/systemd/system/multi-user.target.wants/posagent.service"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("/%s is left after purge", p)
		}
	}
	passwd, _ = os.ReadFile(filepath.Join(root, "etc/passwd"))
	groups, _ = os.ReadFile(filepath.Join(root, "etc/group"))
	if bytes.Contains(passwd, []byte("\nposagent:")) || bytes.Contains(groups, []byte("\nposagent:")) {
		t.Error("the posagent user or group is left after purge")
	}
}

// exitCode returns the exit status in err (0 for nil, -1 if not an exit).
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}
