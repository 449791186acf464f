package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/leakscan"
)

// TestRun: the exit code says clean, leak or "proves nothing", and the
// report never repeats the card number.
func TestRun(t *testing.T) {
	pan := leakscan.TestCards[0]
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clean := write("clean.log", "{\"msg\":\"sale\",\"masked_pan\":\"4111********1111\"}\nsecond line\n")
	leak := write("ws.capture", "2026-11-22T07:35:55.054Z recv {\"pan\":\""+pan+"\"}\n")
	cipher := write("decode.out", "{\"e_track_data\":\""+strings.Repeat("A1", 48)+"\"}\n")
	empty := write("empty.capture", "")
	binary := write("journal.db", "\x00\x01{\"masked_pan\":\"4111********1111\"}\x00")
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"clean", []string{clean}, 0, "leakscan: 1 files, 59 bytes, 2 lines, 0 findings"},
		{"card number", []string{clean, leak}, 1, leak + ":1: pan"},
		{"ciphertext", []string{cipher}, 1, "ciphertext"},
		{"ciphertext allowed", []string{"-allow-ciphertext", cipher}, 0, "0 findings"},
		{"no newline at all", []string{binary}, 0, binary + ": 36 bytes, 1 lines, 0 findings"},
		{"empty file", []string{clean, empty}, 2, ""},
		{"missing file", []string{filepath.Join(dir, "nope")}, 2, ""},
		{"no files", nil, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(tt.args, &stdout, &stderr)
			// Failure messages show the output with the number masked.
			masked := func(s string) string { return strings.ReplaceAll(s, pan, "<card number>") }
			if code != tt.code {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, tt.code, masked(stdout.String()), masked(stderr.String()))
			}
			if !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("stdout %q, want it to contain %q", masked(stdout.String()), tt.out)
			}
			if strings.Contains(stdout.String()+stderr.String(), pan) {
				t.Error("the report repeats the card number")
			}
		})
	}
}
