package browser

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestErrorCodeUnionComplete checks that posagent.d.ts's ErrorCode union
// lists every error and warning code the agent can send, read from the Go
// source: a code added to the agent without its type would let a page's
// switch miss it silently, and a code in the type the agent never sends is
// dead documentation.
func TestErrorCodeUnionComplete(t *testing.T) {
	root := filepath.Join("..", "..")
	// Code constants (bridge, engine, decrypt) and warning codes written as
	// literals where the engine publishes them.
	constRe := regexp.MustCompile(`(?m)^\s*Code[A-Za-z]*\s*=\s*"([a-z_]+)"`)
	literalRe := regexp.MustCompile(`(?:Code: |Code = |return why, |reader", )"([a-z_]+)"`)
	sent := map[string]bool{}
	for _, dir := range []string{"internal/bridge", "internal/engine", "internal/decrypt"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range constRe.FindAllStringSubmatch(string(b), -1) {
				sent[m[1]] = true
			}
			for _, m := range literalRe.FindAllStringSubmatch(string(b), -1) {
				sent[m[1]] = true
			}
		}
	}
	// Not sent in an error message: slow_client is a close reason only,
	// forbidden_origin an HTTP 403 at the handshake (a page sees a close).
	delete(sent, "slow_client")
	delete(sent, "forbidden_origin")
	for _, must := range []string{"not_paired", "busy", "clear_track_data", "bad_read", "test_key", "replayed_read", "no_sale"} {
		if !sent[must] {
			t.Fatalf("the source scan missed %q: fix the test's patterns", must)
		}
	}
	dts, err := os.ReadFile(filepath.Join(root, "assets", "web", "posagent.d.ts"))
	if err != nil {
		t.Fatal(err)
	}
	typed := map[string]bool{}
	unionRe := regexp.MustCompile(`(?s)export type (?:RequestErrorCode|WarningCode) =(.*?);`)
	for _, u := range unionRe.FindAllStringSubmatch(string(dts), -1) {
		for _, m := range regexp.MustCompile(`'([a-z_]+)'`).FindAllStringSubmatch(u[1], -1) {
			typed[m[1]] = true
		}
	}
	var missing, extra []string
	for c := range sent {
		if !typed[c] {
			missing = append(missing, c)
		}
	}
	for c := range typed {
		if !sent[c] {
			extra = append(extra, c)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("posagent.d.ts ErrorCode: missing %v (sent by the agent), not sent by the agent %v", missing, extra)
	}
}
