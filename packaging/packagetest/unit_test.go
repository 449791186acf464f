package packagetest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/posagent/posagent/packaging"
)

// unit is a parsed systemd unit: section → key → values in file order.
type unit map[string]map[string][]string

// parseUnit reads the unit-file syntax the posagent unit uses: [Section],
// Key=Value, comments (# or ;) and blank lines. Anything else is an error,
// so a stray line cannot hide.
func parseUnit(t *testing.T, text string) unit {
	t.Helper()
	u := unit{}
	section := ""
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("unit line %d: %q is neither a section, a comment nor Key=Value", i+1, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) get(section, key string) []string { return u[section][key] }

// TestUnitDirectives checks the decisions the Go side and the design depend
// on, one directive at a time.
func TestUnitDirectives(t *testing.T) {
	u := parseUnit(t, packaging.SystemdUnit)
	want := []struct {
		section, key string
		values       []string
	}{
		{"Unit", "After", []string{"network.target"}},
		{"Service", "Type", []string{"notify"}},
		{"Service", "NotifyAccess", []string{"main"}},
		{"Service", "ExecStart", []string{"/usr/bin/posagent run --headless --config /etc/posagent/posagent.toml --state-dir ${STATE_DIRECTORY}"}},
		{"Service", "User", []string{"posagent"}},
		{"Service", "Group", []string{"posagent"}},
		{"Service", "SupplementaryGroups", []string{"dialout"}},
		{"Service", "StateDirectory", []string{"posagent"}},
		{"Service", "StateDirectoryMode", []string{"0700"}},
		{"Service", "ConfigurationDirectory", []string{"posagent"}},
		{"Service", "Restart", []string{"on-failure"}},
		{"Service", "RestartSec", []string{"2"}},
		{"Service", "RestartPreventExitStatus", []string{"78"}},
		{"Service", "TimeoutStopSec", []string{"15"}},
		{"Service", "DevicePolicy", []string{"closed"}},
		{"Service", "DeviceAllow", []string{"char-hidraw rw", "char-usb_device rw", "char-ttyACM rw", "char-ttyUSB rw"}},
		{"Service", "NoNewPrivileges", []string{"yes"}},
		{"Service", "ProtectSystem", []string{"strict"}},
		{"Service", "ProtectHome", []string{"yes"}},
		{"Service", "PrivateTmp", []string{"yes"}},
		{"Service", "ProtectKernelTunables", []string{"yes"}},
		{"Service", "ProtectKernelModules", []string{"yes"}},
		{"Service", "ProtectKernelLogs", []string{"yes"}},
		{"Service", "ProtectControlGroups", []string{"yes"}},
		{"Service", "ProtectClock", []string{"yes"}},
		{"Service", "ProtectHostname", []string{"yes"}},
		{"Service", "RestrictNamespaces", []string{"yes"}},
		{"Service", "RestrictRealtime", []string{"yes"}},
		{"Service", "RestrictSUIDSGID", []string{"yes"}},
		{"Service", "LockPersonality", []string{"yes"}},
		{"Service", "MemoryDenyWriteExecute", []string{"yes"}},
		{"Service", "SystemCallArchitectures", []string{"native"}},
		{"Service", "CapabilityBoundingSet", []string{""}},
		{"Service", "RestrictAddressFamilies", []string{"AF_UNIX AF_INET AF_INET6 AF_NETLINK"}},
		{"Service", "UMask", []string{"0077"}},
		{"Install", "WantedBy", []string{"multi-user.target"}},
	}
	for _, w := range want {
		if got := u.get(w.section, w.key); !slices.Equal(got, w.values) {
			t.Errorf("[%s] %s = %q, want %q", w.section, w.key, got, w.values)
		}
	}
	// PrivateDevices=yes would hide /dev/hidraw*, /dev/bus/usb and the ttys.
	for section, keys := range u {
		for _, k := range []string{"PrivateDevices", "DynamicUser", "PrivateUsers"} {
			if v, ok := keys[k]; ok {
				t.Errorf("[%s] %s=%v: it would keep the agent from the readers' device nodes", section, k, v)
			}
		}
	}
}

// TestUnitTextContract: the Go installer replaces the one literal
// /usr/bin/posagent (in ExecStart) with its own path and passes the text
// through text/template.
func TestUnitTextContract(t *testing.T) {
	if n := strings.Count(packaging.SystemdUnit, "/usr/bin/posagent"); n != 1 {
		t.Errorf("/usr/bin/posagent appears %d times, want exactly once (in ExecStart)", n)
	}
	exec := parseUnit(t, packaging.SystemdUnit).get("Service", "ExecStart")
	if len(exec) != 1 || !strings.HasPrefix(exec[0], "/usr/bin/posagent ") {
		t.Errorf("ExecStart = %q, want one line starting with /usr/bin/posagent", exec)
	}
	for name, text := range map[string]string{"unit": packaging.SystemdUnit, "plist": packaging.LaunchdPlist} {
		if strings.Contains(text, "{{") {
			t.Errorf("the %s contains {{: kardianos/service runs it through text/template", name)
		}
	}
	if got := read(t, "packaging/linux/posagent.service"); got != packaging.SystemdUnit {
		t.Error("packaging.SystemdUnit differs from packaging/linux/posagent.service")
	}
}

// verifyUnit runs `systemd-analyze verify` on unitText with ExecStart's
// binary replaced by exe, the way `posagent service install` rewrites it.
// verify fails when the ExecStart binary does not exist, and it exits 0 on
// an unknown key or a bad value (it only prints a warning), so any output
// about the unit is a failure too.
func verifyUnit(t *testing.T, unitText, exe string) {
	t.Helper()
	tool := need(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	path := filepath.Join(dir, "posagent.service")
	text := strings.Replace(unitText, "/usr/bin/posagent", exe, 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runErr(tool, "verify", path)
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s%s", err, out, stderr)
	}
	for _, line := range strings.Split(out+stderr, "\n") {
		if strings.Contains(line, "posagent") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

// stubExe writes an executable that exits 0, for ExecStart to point at.
func stubExe(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "posagent")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUnitVerifies(t *testing.T) {
	verifyUnit(t, packaging.SystemdUnit, stubExe(t))
}

// TestUnitVerifyCatchesMistakes proves the verify check can fail: systemd
// accepts these units with exit 0 and a warning.
func TestUnitVerifyCatchesMistakes(t *testing.T) {
	tool := need(t, "systemd-analyze", "systemd")
	cases := []struct{ name, from, to string }{
		{"misspelt key", "ProtectClock=yes", "ProtectClok=yes"},
		{"bad device rights", "DeviceAllow=char-hidraw rw", "DeviceAllow=char-hidraw rwz"},
		{"bad restart value", "Restart=on-failure", "Restart=sometimes"},
	}
	exe := stubExe(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(packaging.SystemdUnit, c.from) {
				t.Fatalf("the unit has no %q", c.from)
			}
			path := filepath.Join(t.TempDir(), "posagent.service")
			text := strings.Replace(strings.Replace(packaging.SystemdUnit, c.from, c.to, 1), "/usr/bin/posagent", exe, 1)
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			out, stderr, _ := runErr(tool, "verify", path)
			if !strings.Contains(out+stderr, "posagent.service:") {
				t.Errorf("systemd-analyze verify said nothing about %s:\n%s%s", c.name, out, stderr)
			}
		})
	}
}
