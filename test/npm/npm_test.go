package npm

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const root = "../.."

// Tools finds node, npm and this directory's tsc, skipping the test when
// one is missing (make deps installs them).
func tools(t *testing.T) (npm, tsc string) {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("no npm on PATH: apt-get install npm")
	}
	tsc, _ = filepath.Abs(filepath.Join("node_modules", "typescript", "bin", "tsc"))
	if _, err := os.Stat(tsc); err != nil {
		t.Skip("typescript is not installed here: run make deps (npm ci in test/npm)")
	}
	return npm, tsc
}

// Pack builds the package into dir and returns the tarball's path.
func Pack(t *testing.T, version, dir string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(root, "packaging", "npm", "pack.sh"), version, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("pack.sh: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

func run(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPackageInstallsAndTypeChecks(t *testing.T) {
	npm, tsc := tools(t)
	tgz := Pack(t, "1.2.0-dev+test", t.TempDir())
	if base := filepath.Base(tgz); !strings.HasPrefix(base, "posagent-client-1.2.0") || !strings.HasSuffix(base, ".tgz") {
		t.Fatalf("tarball %s: want posagent-client-<version>.tgz", base)
	}
	checkTarball(t, tgz)

	proj := t.TempDir()
	if err := os.WriteFile(filepath.Join(proj, "package.json"), []byte(`{"name":"throwaway","private":true,"type":"module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, proj, npm, "install", "--no-audit", "--no-fund", "--loglevel=error", tgz); err != nil {
		t.Fatalf("npm install %s: %v\n%s", tgz, err, out)
	}
	for _, f := range []string{"checkout.ts", "tsconfig.json"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "typescript", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proj, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run(t, proj, "node", tsc, "-p", ".", "--strict"); err != nil {
		t.Fatalf("tsc --strict on examples/typescript: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(proj, "dist", "checkout.js")); err != nil {
		t.Fatalf("tsc wrote no dist/checkout.js: %v", err)
	}

	// A misspelled code must not compile, wherever it is written.
	for name, c := range map[string]struct{ src, typo string }{
		"compare": {"import { PosAgentError } from '@posagent/client';\ndeclare const e: PosAgentError;\nexport const bad = e.code === 'not_paried';\n", "not_paried"},
		"assign":  {"import type { ErrorCode } from '@posagent/client';\nexport const bad: ErrorCode = 'agent_unreachabel';\n", "agent_unreachabel"},
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(proj, "typo_"+name+".ts")
			if err := os.WriteFile(f, []byte(c.src), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := run(t, proj, "node", tsc, "--strict", "--noEmit", "--module", "ES2022", "--moduleResolution", "bundler", "--target", "ES2022", f)
			if err == nil {
				t.Fatalf("a misspelled error code compiled:\n%s", c.src)
			}
			// The error must be about the typo, not e.g. a missing export.
			if !strings.Contains(out, "error TS") || !strings.Contains(out, c.typo) {
				t.Fatalf("tsc failed, but not on the misspelled code %q: %s", c.typo, out)
			}
		})
	}
}

// checkTarball: the package holds the files the agent serves, byte for
// byte, and a package.json that makes it an ES module with types.
func checkTarball(t *testing.T, tgz string) {
	t.Helper()
	fh, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	gz, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "package/")] = b
	}
	for _, f := range []string{"posagent.js", "posagent.d.ts"} {
		served, err := os.ReadFile(filepath.Join(root, "assets", "web", f))
		if err != nil {
			t.Fatal(err)
		}
		if string(files[f]) != string(served) {
			t.Errorf("%s in the package differs from the one the agent serves", f)
		}
	}
	for _, f := range []string{"README.md", "CHANGELOG.md"} {
		if len(files[f]) == 0 {
			t.Errorf("the package has no %s", f)
		}
	}
	var pkg struct {
		Name, Version, Type, Types string
	}
	if err := json.Unmarshal(files["package.json"], &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	if pkg.Name != "@posagent/client" || pkg.Type != "module" || pkg.Types == "" || !strings.HasPrefix(pkg.Version, "1.") {
		t.Errorf("package.json %+v: want @posagent/client, type module, types, version 1.x (protocol v1)", pkg)
	}
	if len(files) != 5 {
		t.Errorf("the package holds %d files, want 5 (js, d.ts, package.json, README, CHANGELOG)", len(files))
	}
}

// The install command the docs give works when typed literally after
// `make npm`, which writes dist/posagent-client-<version>.tgz, a dev
// build's version being 1.2.0-dev+<commit>: "npm install
// ./posagent-client-1.2.0.tgz" named neither the directory nor a dev
// build's file.
func TestDocsInstallWhatMakeNpmBuilds(t *testing.T) {
	built := []string{"posagent-client-1.2.0-dev+8a5559e.tgz", "posagent-client-1.2.0.tgz"}
	cmd := regexp.MustCompile(`npm install (\S+\.tgz)`)
	for _, doc := range []string{"docs/quickstart.md", "packaging/npm/README.md"} {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range cmd.FindAllStringSubmatch(string(b), -1) {
			for _, f := range built {
				if ok, _ := filepath.Match(filepath.Base(m[1]), f); !ok || filepath.Base(filepath.Dir(m[1])) != "dist" {
					t.Errorf("%s: `npm install %s` does not install %s, what make npm builds", doc, m[1], f)
				}
			}
		}
	}
}
