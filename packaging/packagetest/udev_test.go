package packagetest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/posagent/posagent/packaging"
)

// systemd 252 (Debian 12) has no `udevadm verify` (systemd 253 added it), so
// the rules are checked twice: by parseRules below, a strict Go parser of
// udev's rule syntax (every item KEY[{attr}]OP"value", comma-separated, with
// the operators each key allows), which runs everywhere; and by udevadm
// itself (udevadmCheck), which loads the file in a private mount namespace
// and reports every line it rejects, where root may mount.

// ruleItem is one KEY{attr}OP"value" of a rule line.
type ruleItem struct{ key, attr, op, value string }

// keySpec is what udev (rules(7), systemd 252) accepts for a key.
type keySpec struct {
	match, assign bool
	attr          byte // 'y' required, 'n' none, 'o' optional
	assignOps     string
}

const anyAssign = "= += -= :="

var udevKeys = map[string]keySpec{
	"ACTION": {match: true, attr: 'n'}, "DEVPATH": {match: true, attr: 'n'},
	"KERNEL": {match: true, attr: 'n'}, "KERNELS": {match: true, attr: 'n'},
	"SUBSYSTEM": {match: true, attr: 'n'}, "SUBSYSTEMS": {match: true, attr: 'n'},
	"DRIVER": {match: true, attr: 'n'}, "DRIVERS": {match: true, attr: 'n'},
	"ATTRS": {match: true, attr: 'y'}, "TAGS": {match: true, attr: 'n'},
	"TEST": {match: true, attr: 'o'}, "PROGRAM": {match: true, attr: 'n'},
	"RESULT": {match: true, attr: 'n'}, "CONST": {match: true, attr: 'y'},
	"NAME":     {match: true, assign: true, attr: 'n', assignOps: "= :="},
	"SYMLINK":  {match: true, assign: true, attr: 'n', assignOps: anyAssign},
	"ATTR":     {match: true, assign: true, attr: 'y', assignOps: "= :="},
	"SYSCTL":   {match: true, assign: true, attr: 'y', assignOps: "= :="},
	"ENV":      {match: true, assign: true, attr: 'y', assignOps: anyAssign},
	"TAG":      {match: true, assign: true, attr: 'n', assignOps: anyAssign},
	"OWNER":    {assign: true, attr: 'n', assignOps: "= :="},
	"GROUP":    {assign: true, attr: 'n', assignOps: "= :="},
	"MODE":     {assign: true, attr: 'n', assignOps: "= :="},
	"SECLABEL": {assign: true, attr: 'y', assignOps: "= += :="},
	"OPTIONS":  {assign: true, attr: 'n', assignOps: "= +="},
	"IMPORT":   {assign: true, attr: 'y', assignOps: "= +="},
	"RUN":      {assign: true, attr: 'o', assignOps: anyAssign},
	"LABEL":    {assign: true, attr: 'n', assignOps: "="},
	"GOTO":     {assign: true, attr: 'n', assignOps: "="},
}

var itemRE = regexp.MustCompile(`^([A-Z_]+)(?:\{([^}]*)\})?(==|!=|\+=|-=|:=|=)"((?:[^"\\]|\\.)*)"`)

// parseRuleLine splits one rule line into items, or says what is wrong.
func parseRuleLine(line string) ([]ruleItem, error) {
	var items []ruleItem
	rest := strings.TrimSpace(line)
	for rest != "" {
		m := itemRE.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("not KEY[{attr}]OP\"value\": %q", rest)
		}
		it := ruleItem{key: m[1], attr: m[2], op: m[3], value: m[4]}
		spec, ok := udevKeys[it.key]
		switch {
		case !ok:
			return nil, fmt.Errorf("unknown key %s", it.key)
		case spec.attr == 'y' && it.attr == "":
			return nil, fmt.Errorf("%s needs {attribute}", it.key)
		case spec.attr == 'n' && m[0][len(m[1])] == '{':
			return nil, fmt.Errorf("%s takes no {attribute}", it.key)
		case it.op == "==" || it.op == "!=":
			if !spec.match {
				return nil, fmt.Errorf("%s cannot be matched (%s)", it.key, it.op)
			}
		case !spec.assign:
			return nil, fmt.Errorf("%s is a match key: use == or !=, not %s", it.key, it.op)
		case !strings.Contains(" "+spec.assignOps+" ", " "+it.op+" "):
			return nil, fmt.Errorf("%s takes %s, not %s", it.key, spec.assignOps, it.op)
		}
		items = append(items, it)
		rest = strings.TrimSpace(rest[len(m[0]):])
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("missing comma before %q", rest)
		}
		rest = strings.TrimSpace(rest[1:])
		if rest == "" {
			return nil, fmt.Errorf("trailing comma")
		}
	}
	return items, nil
}

// parseRules parses a rules file: one rule per non-comment line.
func parseRules(text string) ([][]ruleItem, error) {
	var rules [][]ruleItem
	for i, line := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(line); t == "" || t[0] == '#' {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			return nil, fmt.Errorf("line %d: continuation lines are not used here", i+1)
		}
		items, err := parseRuleLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		rules = append(rules, items)
	}
	return rules, nil
}

func TestRuleParserRejects(t *testing.T) {
	bad := []string{
		`SUBSYSTEM="usb", GROUP="posagent"`,            // assignment to a match key
		`SUBSYSTEM=="usb" GROUP="posagent"`,            // missing comma
		`SUBSYSTEM=="usb", MODE=="0660"`,               // MODE cannot be matched
		`SUBSYSTEM=="usb", ATTR="0801"`,                // ATTR without {attribute}
		`SUBSYSTEM=="usb", GROUPS="posagent"`,          // unknown key
		`SUBSYSTEM=="usb", GROUP+="posagent"`,          // GROUP takes = or :=
		`SUBSYSTEM=="usb", GROUP="posagent",`,          // trailing comma
		`SUBSYSTEM=="usb", GROUP=posagent`,             // unquoted value
		`SUBSYSTEM{x}=="usb"`,                          // SUBSYSTEM takes no attribute
		`SUBSYSTEM=="usb", ENV{ID_MM_DEVICE_IGNORE}=1`, // unquoted value
	}
	for _, line := range bad {
		if _, err := parseRuleLine(line); err == nil {
			t.Errorf("accepted %s", line)
		}
	}
	if _, err := parseRuleLine(`SUBSYSTEM=="tty", KERNEL=="ttyACM[0-9]*|ttyUSB[0-9]*", TAG+="uaccess", ENV{A}="\"x\""`); err != nil {
		t.Errorf("rejected a valid line: %v", err)
	}
}

func TestUdevRules(t *testing.T) {
	if got := read(t, "packaging/linux/60-posagent.rules"); got != packaging.UdevRules {
		t.Fatal("packaging.UdevRules differs from packaging/linux/60-posagent.rules")
	}
	rules, err := parseRules(packaging.UdevRules)
	if err != nil {
		t.Fatal(err)
	}
	// Every GOTO has its LABEL.
	labels, gotos := map[string]bool{}, []string{}
	for _, r := range rules {
		for _, it := range r {
			switch it.key {
			case "LABEL":
				labels[it.value] = true
			case "GOTO":
				gotos = append(gotos, it.value)
			}
		}
	}
	for _, g := range gotos {
		if !labels[g] {
			t.Errorf("GOTO=%q has no LABEL", g)
		}
	}

	// Each vendor × node kind has a rule that hands the node to the service
	// and to the person at the counter.
	type want struct {
		subsystem, vendorKey string
		also                 []ruleItem
	}
	kinds := []want{
		{"usb", "ATTR", []ruleItem{{key: "ENV", attr: "DEVTYPE", op: "==", value: "usb_device"}}},
		{"hidraw", "ATTRS", nil},
		{"tty", "ATTRS", []ruleItem{
			{key: "KERNEL", op: "==", value: "ttyACM[0-9]*|ttyUSB[0-9]*"},
			{key: "ENV", attr: "ID_MM_DEVICE_IGNORE", op: "=", value: "1"},
		}},
	}
	access := []ruleItem{
		{key: "GROUP", op: "=", value: "posagent"},
		{key: "MODE", op: "=", value: "0660"},
		{key: "TAG", op: "+=", value: "uaccess"},
	}
	for _, vendor := range []string{"0801", "0acd"} { // MagTek, ID TECH
		for _, k := range kinds {
			match := []ruleItem{
				{key: "SUBSYSTEM", op: "==", value: k.subsystem},
				{key: k.vendorKey, attr: "idVendor", op: "==", value: vendor},
			}
			found := false
			for _, r := range rules {
				if hasAll(r, match) {
					found = true
					if missing := missingItems(r, append(append([]ruleItem{}, access...), k.also...)); len(missing) > 0 {
						t.Errorf("the %s rule for vendor %s lacks %v", k.subsystem, vendor, missing)
					}
				}
			}
			if !found {
				t.Errorf("no rule for SUBSYSTEM==%q with %s{idVendor}==%q", k.subsystem, k.vendorKey, vendor)
			}
		}
	}
}

func hasAll(rule, items []ruleItem) bool { return len(missingItems(rule, items)) == 0 }

func missingItems(rule, items []ruleItem) []ruleItem {
	var missing []ruleItem
	for _, want := range items {
		found := false
		for _, it := range rule {
			if it == want {
				found = true
			}
		}
		if !found {
			missing = append(missing, want)
		}
	}
	return missing
}

// udevadmCheck loads rulesFile with the real udev rule parser: `udevadm
// test` in a private mount namespace where the file is the only one in
// /etc/udev/rules.d, /etc/group (groupFile) knows group posagent, and /run is
// a tmpfs (udevadm test writes device data there). udevadm names every line
// it rejects as FILE:LINE; there must be none.
func udevadmCheck(t *testing.T, rulesFile, groupFile string) {
	t.Helper()
	udevadm := need(t, "udevadm", "udev")
	if why := namespaceOK(); why != "" {
		t.Skipf("udevadm test needs a private mount namespace (%s): the rules were checked by the Go parser only", why)
	}
	dev := ""
	for _, d := range []string{"/sys/class/tty/tty", "/sys/class/mem/null", "/sys/devices/virtual/tty/tty"} {
		if _, err := os.Stat(d); err == nil {
			dev = d
			break
		}
	}
	if dev == "" {
		t.Skip("no /sys device for udevadm test to process")
	}
	rulesDir := t.TempDir()
	name := filepath.Base(rulesFile)
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rulesDir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `set -e
mount -t tmpfs tmpfs /run
mount --bind "$1" /etc/udev/rules.d
mount --bind "$2" /etc/group
exec "$3" test --action=add "$4" 2>&1`
	out, stderr, err := runErr("unshare", "-m", "sh", "-c", script, "sh", rulesDir, groupFile, udevadm, dev)
	if err != nil {
		t.Fatalf("udevadm test: %v\n%s%s", err, out, stderr)
	}
	if !strings.Contains(out, "Reading rules file: /etc/udev/rules.d/"+name) {
		t.Fatalf("udevadm test did not read %s:\n%s", name, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "/etc/udev/rules.d/"+name+":") {
			t.Errorf("udevadm: %s", line)
		}
	}
}

// groupWithPosagent writes a copy of /etc/group that has group posagent,
// so that udevadm resolves GROUP="posagent" instead of warning.
func groupWithPosagent(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/etc/group")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "group")
	if !strings.Contains("\n"+string(b), "\nposagent:") {
		b = append(b, "posagent:x:989:\n"...)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUdevadmAcceptsRules(t *testing.T) {
	udevadmCheck(t, src("packaging/linux/60-posagent.rules"), groupWithPosagent(t))
}

// TestUdevadmCheckCatchesMistakes proves udevadmCheck can fail.
func TestUdevadmCheckCatchesMistakes(t *testing.T) {
	udevadm := need(t, "udevadm", "udev")
	if why := namespaceOK(); why != "" {
		t.Skipf("needs a private mount namespace (%s)", why)
	}
	bad := filepath.Join(t.TempDir(), "60-bad.rules")
	if err := os.WriteFile(bad, []byte("SUBSYSTEM==\"usb\", MODE==\"0660\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, _ := runErr("unshare", "-m", "sh", "-c",
		`mount -t tmpfs tmpfs /run && mount --bind "$1" /etc/udev/rules.d && "$2" test --action=add /sys/class/tty/tty 2>&1`,
		"sh", filepath.Dir(bad), udevadm)
	if !strings.Contains(out, "60-bad.rules:1") {
		t.Errorf("udevadm test did not report the bad line:\n%s", out)
	}
}
