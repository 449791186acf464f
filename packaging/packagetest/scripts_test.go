package packagetest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var maintainerScripts = []string{"postinst", "prerm", "postrm"}

// TestScriptsParse: POSIX sh syntax (sh -n is dash on Debian, the /bin/sh
// that runs them), a set -e, and shellcheck-clean where shellcheck is
// installed (it is optional: apt package shellcheck).
func TestScriptsParse(t *testing.T) {
	scripts := []string{"packaging/package.sh", "packaging/windows/sign.sh", "packaging/linux/deb-version.sh"}
	for _, s := range maintainerScripts {
		scripts = append(scripts, "packaging/linux/scripts/"+s)
	}
	shellcheck, _ := exec.LookPath("shellcheck")
	for _, s := range scripts {
		t.Run(filepath.Base(s), func(t *testing.T) {
			text := read(t, s)
			if !strings.HasPrefix(text, "#!/bin/sh\n") {
				t.Error("does not start with #!/bin/sh")
			}
			if !strings.Contains(text, "\nset -e") {
				t.Error("no set -e")
			}
			if st, err := os.Stat(src(s)); err != nil || st.Mode()&0o111 == 0 {
				t.Errorf("not executable: %v", err)
			}
			run(t, "sh", "-n", src(s))
			if shellcheck != "" {
				run(t, shellcheck, "-s", "sh", src(s))
			}
		})
	}
	if shellcheck == "" {
		t.Log("shellcheck not installed: checked with sh -n only")
	}
}

func TestDebVersion(t *testing.T) {
	cases := []struct{ version, want string }{
		{"v1.2.3", "1.2.3"},
		{"v1.2.3-rc.1", "1.2.3~rc.1"},
		{"v1.2.3-4-gabc1234", "1.2.3+git4.abc1234"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+git4.abc1234.dirty"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"v2.0.0-beta-3-gdeadbee", "2.0.0~beta+git3.deadbee"},
		{"4bfef86", "0.0.0~git4bfef86"},
		{"4bfef86-dirty", "0.0.0~git4bfef86+dirty"},
		{"dev", "0.0.0~dev"},
		{"", "0.0.0~unknown"},
	}
	for _, c := range cases {
		if got := strings.TrimSpace(run(t, src("packaging/linux/deb-version.sh"), c.version)); got != c.want {
			t.Errorf("deb-version.sh %q = %q, want %q", c.version, got, c.want)
		}
	}
	// The versions sort the way the releases happened.
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("no dpkg to compare versions")
	}
	order := []string{"0.0.0~git4bfef86", "0.0.0~git4bfef86+dirty", "1.2.3~rc.1", "1.2.3", "1.2.3+dirty", "1.2.3+git4.abc1234", "1.2.4"}
	for i := 1; i < len(order); i++ {
		if _, _, err := runErr(dpkg, "--compare-versions", order[i-1], "lt", order[i]); err != nil {
			t.Errorf("dpkg does not sort %s before %s", order[i-1], order[i])
		}
	}
}

// TestMaintainerScriptCalls runs postinst and prerm for real, in a private
// mount namespace where /run says whether systemd and udev run, and where
// systemctl, udevadm, systemd-sysusers, modprobe and /usr/bin/posagent
// are stubs that record how they were called: the systemctl calls are the
// ones a wrong guard would get wrong.
func TestMaintainerScriptCalls(t *testing.T) {
	if why := namespaceOK(); why != "" {
		t.Skipf("needs a private mount namespace (%s)", why)
	}
	if _, err := os.Stat("/etc/posagent"); err == nil {
		t.Skip("/etc/posagent exists on this machine: the scripts would touch it")
	}
	const check = "posagent run --check-config --config /etc/posagent/posagent.toml"
	cases := []struct {
		name          string
		script        string
		args          []string
		systemd, udev bool
		checkRC       string
		want          []string
		stderr        []string // substrings
	}{
		{
			name: "install, configured", script: "postinst", args: []string{"configure", ""},
			systemd: true, checkRC: "0",
			want: []string{"systemd-sysusers posagent.conf", "systemctl daemon-reload", "systemctl enable posagent.service",
				check, "systemctl start posagent.service"},
		},
		{
			name: "install, not configured", script: "postinst", args: []string{"configure", ""},
			systemd: true, udev: true, checkRC: "78",
			want: []string{"systemd-sysusers posagent.conf", "udevadm control --reload-rules",
				"udevadm trigger --subsystem-match=usb --subsystem-match=hidraw --subsystem-match=tty",
				"systemctl daemon-reload", "systemctl enable posagent.service", check},
			stderr: []string{"installed but not configured", "gateway.user_id: missing", "sudo systemctl restart posagent"},
		},
		{
			name: "upgrade", script: "postinst", args: []string{"configure", "0.0.1"},
			systemd: true, checkRC: "0",
			want: []string{"systemd-sysusers posagent.conf", "systemctl daemon-reload", "systemctl enable posagent.service",
				check, "systemctl try-restart posagent.service"},
		},
		{
			name: "install without systemd (chroot, container)", script: "postinst", args: []string{"configure", ""},
			checkRC: "0",
			want:    []string{"systemd-sysusers posagent.conf", "systemctl enable posagent.service"},
		},
		{name: "abort-upgrade", script: "postinst", args: []string{"abort-upgrade", "0.0.1"}, systemd: true, want: nil},
		{
			name: "remove", script: "prerm", args: []string{"remove"}, systemd: true,
			want: []string{"systemctl stop posagent.service", "systemctl disable posagent.service"},
		},
		{name: "prerm on upgrade", script: "prerm", args: []string{"upgrade", "0.0.2"}, systemd: true, want: nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Not t.TempDir: the subtest's name has commas, which would
			// split the overlay mount's options.
			w, err := os.MkdirTemp("", "posagent-scripts")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(w) })
			calls := filepath.Join(w, "calls")
			stubs := filepath.Join(w, "stubs")
			for _, d := range []string{stubs, w + "/run", w + "/upper", w + "/work"} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			stub := "#!/bin/sh\necho \"$(basename \"$0\") $*\" >>\"$CALLS\"\n"
			for _, name := range []string{"systemctl", "udevadm", "systemd-sysusers", "modprobe"} {
				if err := os.WriteFile(filepath.Join(stubs, name), []byte(stub), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			posagent := stub + "echo 'gateway.user_id: missing: the API user id' >&2\nexit \"$CHECK_RC\"\n"
			if err := os.WriteFile(filepath.Join(w, "posagent"), []byte(posagent), 0o755); err != nil {
				t.Fatal(err)
			}
			if c.systemd {
				if err := os.MkdirAll(w+"/run/systemd/system", 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if c.udev {
				if err := os.MkdirAll(w+"/run/udev", 0o755); err != nil {
					t.Fatal(err)
				}
				l, err := net.Listen("unix", w+"/run/udev/control")
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
			}
			script := `set -e
mount --bind "$W/run" /run
mount -t overlay overlay -o "lowerdir=/usr/bin,upperdir=$W/upper,workdir=$W/work" /usr/bin
cp "$W/posagent" /usr/bin/posagent
script=$1
shift
PATH="$W/stubs:$PATH" exec sh "$script" "$@"`
			args := append([]string{"-m", "sh", "-c", script, "sh", src("packaging/linux/scripts", c.script)}, c.args...)
			cmd := exec.Command("unshare", args...)
			cmd.Env = append(os.Environ(), "W="+w, "CALLS="+calls, "CHECK_RC="+c.checkRC, "DPKG_ROOT=")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if out, err := cmd.Output(); err != nil {
				t.Fatalf("%s %v: %v\n%s%s", c.script, c.args, err, out, stderr.String())
			}
			b, err := os.ReadFile(calls)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				// modprobe runs where /proc/modules is readable, which
				// depends on the machine, not on the script.
				if line != "" && !strings.HasPrefix(line, "modprobe ") {
					got = append(got, line)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			if len(c.stderr) == 0 && strings.Contains(stderr.String(), "not configured") {
				t.Errorf("unexpected message:\n%s", stderr.String())
			}
		})
	}
}
