package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/bridge"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const samples = "../../internal/decrypt/testdata"

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestDecodeGolden runs `posagent decode` on every real sample and compares
// the JSON with testdata/golden. Review a golden diff like code: it is the
// output contract of ARCHITECTURE §3.1.
func TestDecodeGolden(t *testing.T) {
	cases := []struct {
		file string
		args []string
	}{
		{"seed_idtech.txt", nil},
		{"seed_magnesafe.txt", nil},
		{"seed_ksn.txt", []string{"--format", "ksn", "--ksn", "62994900730004200002"}},
		{"seed_ksnpin.txt", []string{"--format", "ksnpin", "--ksn", "62994900730004200002"}},
		{"idtech_ms246_original.hex", nil},
		{"idtech_vp5300_kb_msr.txt", nil},
		{"idtech_augusta_kb_msr.txt", nil},
		{"idtech_authnet_msr_binary.hex", nil},
		{"magtek_v5_hid_report_856.hex", []string{"--format", "magtek-hid"}},
		{"magtek_v5_kb_string.txt", nil},
		{"idtech_vp3350_0240_swipe_frame.hex", []string{"--format", "vivopay"}},
		{"idtech_vp3300_contact_emv_tlv.hex", nil},
		{"idtech_neo2_ctls_mastercard_record.hex", nil},
		{"idtech_vendi_neo_0300_unencrypted_frame.hex", nil},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			args := append([]string{"decode"}, tc.args...)
			args = append(args, filepath.Join(samples, tc.file))
			code, out, _ := run(t, "", args...)
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("output is not one JSON object: %v\n%s", err, out)
			}
			if _, isErr := m["error"]; isErr != (code == 1) || (code != 0 && code != 1) {
				t.Fatalf("exit %d does not match output %s", code, out)
			}
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(tc.file, filepath.Ext(tc.file))+".json")
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s:\n%s", golden, out)
			}
		})
	}
}

// The four seed samples round-trip: decode gives back e_track_data equal to
// the input, with e_serial_number the KSN.
func TestDecodeSeedRoundTrip(t *testing.T) {
	for _, f := range []struct{ file, format string }{
		{"seed_idtech.txt", "idtech"}, {"seed_magnesafe.txt", "magnesafe"}, {"seed_ksn.txt", "ksn"}, {"seed_ksnpin.txt", "ksnpin"},
	} {
		in, err := os.ReadFile(filepath.Join(samples, f.file))
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := run(t, string(in), "decode", "--format", f.format, "--ksn", "62994900730004200002", "-")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s %s", f.file, code, out, errOut)
		}
		var got decodeOutput
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got.ETrackData != strings.TrimSpace(string(in)) || got.EFormat != f.format || got.ESerialNumber != "62994900730004200002" {
			t.Errorf("%s: round trip lost data: e_format %q e_serial_number %q", f.file, got.EFormat, got.ESerialNumber)
		}
	}
}

func TestDecodeErrorsAreJSON(t *testing.T) {
	tests := []struct {
		name, stdin string
		args        []string
		code        string
		exit        int
	}{
		{"clear swipe", "%B4111111111111111^TEST CARD/VI^21121015432112345678?;4111111111111111=21121015432112345678?", nil, "clear_track_data", 1},
		{"garbage", "\x00\x01\x02 not a card", nil, "unknown_format", 1},
		{"empty", "", nil, "malformed", 1},
		{"bad ksn flag", "x", []string{"--ksn", "12"}, "bad_ksn", 1},
		{"ksn needs --ksn", "%*5428^A^?*|00112233445566778899AABBCCDDEEFF|", []string{"--format", "ksn"}, "missing_ksn", 1},
		{"two inputs", "", []string{"a", "b"}, "usage", 1},
		{"missing file", "", []string{"/nonexistent/capture.txt"}, "input", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := run(t, tc.stdin, append([]string{"decode"}, tc.args...)...)
			if code != tc.exit {
				t.Fatalf("exit %d, want %d: %s", code, tc.exit, out)
			}
			var e decodeError
			if err := json.Unmarshal([]byte(out), &e); err != nil || e.Error != tc.code || e.Message == "" {
				t.Fatalf("got %s, want error %q with a message", out, tc.code)
			}
			if strings.Contains(out, "4111111111111111") {
				t.Fatal("error output repeats the card number")
			}
		})
	}
	if code, _, _ := run(t, "", "decode", "--no-such-flag"); code != 2 {
		t.Errorf("bad flag exit %d, want 2", code)
	}
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := run(t, "", "version", "--json")
	var v versionInfo
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.GoVersion == "" || v.Version == "" {
		t.Fatalf("version: exit %d %s", code, out)
	}
	code, out, _ = run(t, "", "help")
	if code != 0 || !strings.Contains(out, "decode") || !strings.Contains(out, "version") {
		t.Fatalf("help: exit %d %s", code, out)
	}
	if code, _, errOut := run(t, "", "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command: exit %d %s", code, errOut)
	}
}

// TestVersionIsSemver: the agent reports a semantic version whose major
// number is the protocol's, release-dev+<commit> when not built on the
// release's tag (docs/protocol.md#versions).
func TestVersionIsSemver(t *testing.T) {
	semver := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	for _, c := range []struct{ ldflag, want string }{
		{"", release + "-dev+"},
		{"1.2.0", "1.2.0"},
		{"1.2.0-dev+8a45dc0.dirty", "1.2.0-dev+8a45dc0.dirty"},
	} {
		old := version
		version = c.ldflag
		got := agentVersion()
		version = old
		m := semver.FindStringSubmatch(got)
		if m == nil || !strings.HasPrefix(got, c.want) {
			t.Errorf("version %q (ldflag %q): not a semantic version starting %q", got, c.ldflag, c.want)
			continue
		}
		if m[1] != strconv.Itoa(bridge.ProtocolVersion) {
			t.Errorf("version %q: major %s is not protocol v%d", got, m[1], bridge.ProtocolVersion)
		}
	}
}
