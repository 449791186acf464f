package packagetest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/packaging"
)

// decodePlist decodes an XML property list (the subset launchd plists use:
// dict, array, string, integer, true, false) into Go values.
func decodePlist(text string) (map[string]any, error) {
	d := xml.NewDecoder(strings.NewReader(text))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("no <plist>: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "plist" {
			v, err := plistValue(d)
			if err != nil {
				return nil, err
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, errors.New("the plist's top value is not a <dict>")
			}
			return m, nil
		}
	}
}

// plistValue reads the next value element.
func plistValue(d *xml.Decoder) (any, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.EndElement:
			return nil, io.EOF // end of the enclosing array/dict
		case xml.StartElement:
			switch tok.Name.Local {
			case "string", "integer", "key":
				var s string
				if err := d.DecodeElement(&s, &tok); err != nil {
					return nil, err
				}
				if tok.Name.Local == "integer" {
					return strconv.Atoi(s)
				}
				if tok.Name.Local == "key" {
					return plistKey(s), nil
				}
				return s, nil
			case "true", "false":
				if err := d.Skip(); err != nil {
					return nil, err
				}
				return tok.Name.Local == "true", nil
			case "array":
				a := []any{}
				for {
					v, err := plistValue(d)
					if errors.Is(err, io.EOF) {
						return a, nil
					}
					if err != nil {
						return nil, err
					}
					a = append(a, v)
				}
			case "dict":
				m := map[string]any{}
				for {
					k, err := plistValue(d)
					if errors.Is(err, io.EOF) {
						return m, nil
					}
					if err != nil {
						return nil, err
					}
					key, ok := k.(plistKey)
					if !ok {
						return nil, fmt.Errorf("dict entry %v without <key>", k)
					}
					v, err := plistValue(d)
					if err != nil {
						return nil, fmt.Errorf("value of %s: %w", key, err)
					}
					m[string(key)] = v
				}
			default:
				return nil, fmt.Errorf("unexpected <%s>", tok.Name.Local)
			}
		}
	}
}

type plistKey string

// TestLaunchdPlist: the LaunchDaemon runs the same subcommand with the same
// flags, in the same order, as the systemd unit; only the paths are macOS's.
func TestLaunchdPlist(t *testing.T) {
	if got := read(t, "packaging/macos/com.posagent.agent.plist"); got != packaging.LaunchdPlist {
		t.Fatal("packaging.LaunchdPlist differs from packaging/macos/com.posagent.agent.plist")
	}
	p, err := decodePlist(packaging.LaunchdPlist)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Label":             "com.posagent.agent",
		"RunAtLoad":         true,
		"KeepAlive":         map[string]any{"SuccessfulExit": false},
		"StandardOutPath":   "/Library/Logs/posagent/posagent.log",
		"StandardErrorPath": "/Library/Logs/posagent/posagent.log",
	}
	for k, v := range want {
		if fmt.Sprint(p[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, p[k], v)
		}
	}
	if n, ok := p["ThrottleInterval"].(int); !ok || n < 5 {
		t.Errorf("ThrottleInterval = %v, want an integer of at least 5 (s)", p["ThrottleInterval"])
	}

	var args []string
	raw, _ := p["ProgramArguments"].([]any)
	for _, a := range raw {
		s, ok := a.(string)
		if !ok {
			t.Fatalf("ProgramArguments has a non-string %v", a)
		}
		args = append(args, s)
	}
	unitArgs := strings.Fields(parseUnit(t, packaging.SystemdUnit).get("Service", "ExecStart")[0])
	if len(args) != len(unitArgs) {
		t.Fatalf("ProgramArguments %q and ExecStart %q differ in length", args, unitArgs)
	}
	if args[0] != "/usr/local/bin/posagent" || unitArgs[0] != "/usr/bin/posagent" {
		t.Errorf("binaries %q and %q: want /usr/local/bin/posagent and /usr/bin/posagent", args[0], unitArgs[0])
	}
	// Subcommand and flags equal; flag values are per-OS paths.
	if got, want := skeleton(args[1:]), skeleton(unitArgs[1:]); !slices.Equal(got, want) {
		t.Errorf("plist runs %q, the unit %q", got, want)
	}
	if got := flagValue(args, "--config"); got != "/Library/Application Support/posagent/posagent.toml" {
		t.Errorf("plist --config %q", got)
	}
	if got := flagValue(args, "--state-dir"); got != "/Library/Application Support/posagent/state" {
		t.Errorf("plist --state-dir %q", got)
	}
	// The unit's config path is the one the agent falls back to as a service.
	if runtime.GOOS == "linux" {
		if got, want := flagValue(unitArgs, "--config"), config.SystemPaths().ConfigFile; got != want {
			t.Errorf("unit --config %q, config.SystemPaths %q", got, want)
		}
	}
	if n := strings.Count(packaging.LaunchdPlist, "/usr/local/bin/posagent"); n != 1 {
		t.Errorf("/usr/local/bin/posagent appears %d times in the plist, want once", n)
	}
}

// skeleton keeps the subcommand and flag names, replacing flag values.
func skeleton(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		out = append(out, args[i])
		if args[i] == "--config" || args[i] == "--state-dir" {
			out = append(out, "VALUE")
			i++
		}
	}
	return out
}

func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}
