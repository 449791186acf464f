package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The packages allowed to reach internal/decrypt/dukpt, module-relative. A
// pattern ending in "/..." matches the package and everything below it.
var dukptAllowed = []string{
	"internal/decrypt/dukpt/...",
	"internal/gateway/sandbox/...",
	"internal/reader/sim/...",
	// The pty fake reader's frames for tests and the bench, encrypted
	// under the public test key like the simulator's.
	"internal/reader/serial/serialtest",
	"cmd/posagent",
	"internal/app/...",
	// Test harnesses outside go test (the chaos run embeds the sandbox as
	// the gateway it faults); they never ship in the agent.
	"test/...",
}

// The packages that may import internal/engine/journal, module-relative:
// the engine that owns it; the composition root, which opens the file it
// hands the engine and runs its retention; the `posagent journal` command,
// which reads and compacts the file of a stopped agent; and the bench and
// chaos harnesses, which seed and inspect a journal directly (they never
// ship in the agent). The bridge and the window speak internal/sale.
var journalAllowed = []string{
	"internal/engine/...",
	"internal/app",
	"cmd/posagent",
	"test/bench",
	"test/chaos",
}

// Agent packages that must never reach internal/decrypt/dukpt, named so that
// widening dukptAllowed over one of them fails TestDukptAllowlist.
var dukptNever = []string{
	"internal/decrypt",
	"internal/engine",
	"internal/bridge",
	"internal/reader",
	"internal/reader/hid",
	"internal/reader/serial",
	"internal/reader/proto",
	"internal/reader/replay",
	"internal/engine/journal",
	"internal/logging",
	"internal/secrets",
	"internal/gateway",
	"internal/gateway/payaconnect",
	"internal/gateway/paidyet",
	"internal/ui",
	"internal/card",
	"internal/emv",
	"internal/config",
}

// leafRoots import no package of the module outside their own tree.
var leafRoots = []string{"internal/card", "internal/emv", "internal/config"}

// rule is one import rule.
type rule struct {
	name string
	// subject reports whether the rule constrains the module package with
	// this module-relative path.
	subject func(rel string) bool
	// forbidden reports whether subject (module-relative) may not depend on
	// dep (a full import path).
	forbidden func(g *graph, subject, dep string) bool
	// direct: only the subject's own imports count. Otherwise its whole
	// non-test dependency closure does.
	direct bool
	// headless: the rule holds for builds with the headless tag only.
	headless bool
	why      string
}

var rules = []rule{
	{
		name:    "dukpt stays out of the agent",
		subject: func(rel string) bool { return !matchAny(dukptAllowed, rel) },
		forbidden: func(g *graph, _, dep string) bool {
			return g.inModule(dep, "internal/decrypt/dukpt/...")
		},
		why: "internal/decrypt/dukpt decrypts card data. The agent forwards ciphertext and never decrypts; only " +
			strings.Join(dukptAllowed[1:], ", ") + " may link it",
	},
	{
		name:    "card, emv and config are leaves",
		subject: func(rel string) bool { return leafRoot(rel) != "" },
		forbidden: func(g *graph, subject, dep string) bool {
			rel, ok := g.rel(dep)
			return ok && !match(leafRoot(subject)+"/...", rel)
		},
		why: "internal/card, internal/emv and internal/config are the inner ring every stage imports: they import no other package of this module",
	},
	{
		name:    "ui knows no reader, gateway or decryption",
		subject: func(rel string) bool { return match("internal/ui/...", rel) },
		forbidden: func(g *graph, _, dep string) bool {
			return g.inModule(dep, "internal/reader/...", "internal/gateway/...", "internal/decrypt/...")
		},
		why: "the UI consumes a small status/command interface it declares itself; the composition root hands it an implementation",
	},
	{
		name:    "sale imports only card",
		subject: func(rel string) bool { return match("internal/sale/...", rel) },
		forbidden: func(g *graph, _, dep string) bool {
			rel, ok := g.rel(dep)
			return ok && !match("internal/sale/...", rel) && !match("internal/card/...", rel)
		},
		why: "internal/sale is the vocabulary engine, bridge, ui and app share; it depends on nothing of theirs (card.Receipt is its only borrowing)",
	},
	{
		name:    "the journal is the engine's",
		subject: func(rel string) bool { return !matchAny(journalAllowed, rel) },
		forbidden: func(g *graph, _, dep string) bool {
			return g.inModule(dep, "internal/engine/journal/...")
		},
		direct: true,
		why: "internal/engine/journal.Record is the engine's storage row; everyone else speaks internal/sale. Only " +
			strings.Join(journalAllowed, ", ") + " import the journal",
	},
	{
		name:    "only internal/reader/hid imports karalabe/hid",
		subject: func(rel string) bool { return !match("internal/reader/hid/...", rel) },
		forbidden: func(_ *graph, _, dep string) bool {
			return match("github.com/karalabe/hid/...", dep)
		},
		direct: true,
		why:    "internal/reader/hid is the thin seam over USB HID, so everything else stays testable without hardware",
	},
	{
		name: "only internal/reader/serial imports go.bug.st/serial",
		// test/bench/floor is the bench's floor program: it reads the pty
		// with the agent's serial library and nothing of the agent.
		subject: func(rel string) bool { return !match("internal/reader/serial/...", rel) && rel != "test/bench/floor" },
		forbidden: func(_ *graph, _, dep string) bool {
			return match("go.bug.st/serial/...", dep)
		},
		direct: true,
		why:    "internal/reader/serial is the thin seam over serial ports, so everything else stays testable without hardware",
	},
	{
		name:    "the headless build links no Fyne",
		subject: func(rel string) bool { return rel == "cmd/posagent" },
		forbidden: func(_ *graph, _, dep string) bool {
			return strings.HasPrefix(dep, "fyne.io/")
		},
		headless: true,
		why:      "a kiosk service built with -tags headless must not need X11 or OpenGL",
	},
}

// match reports whether rel is pattern, or lies under it when pattern ends in
// "/...".
func match(pattern, rel string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == p || strings.HasPrefix(rel, p+"/")
	}
	return rel == pattern
}

func matchAny(patterns []string, rel string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, rel) })
}

func leafRoot(rel string) string {
	for _, r := range leafRoots {
		if match(r+"/...", rel) {
			return r
		}
	}
	return ""
}

// pkg is the part of a `go list -json` package the rules read.
type pkg struct {
	ImportPath string
	Doc        string
	Imports    []string
	DepOnly    bool
	Error      *listError
	DepsErrors []*listError
}

type listError struct{ Err string }

// graph is the package graph of one build of the module.
type graph struct {
	build  build
	module string
	pkgs   map[string]*pkg // the module's packages and their whole closure
	own    []string        // the module's packages (./...), sorted
}

func newGraph(b build, module string, pkgs []*pkg) *graph {
	g := &graph{build: b, module: module, pkgs: map[string]*pkg{}}
	for _, p := range pkgs {
		g.pkgs[p.ImportPath] = p
		if !p.DepOnly {
			if _, ok := g.rel(p.ImportPath); ok {
				g.own = append(g.own, p.ImportPath)
			}
		}
	}
	slices.Sort(g.own)
	return g
}

// rel returns path relative to the module root, and whether the package
// belongs to the module at all.
func (g *graph) rel(path string) (string, bool) {
	if path == g.module {
		return ".", true
	}
	r, ok := strings.CutPrefix(path, g.module+"/")
	return r, ok
}

// short names a package for messages: module-relative when it is ours.
func (g *graph) short(path string) string {
	if r, ok := g.rel(path); ok {
		return r
	}
	return path
}

func (g *graph) inModule(path string, patterns ...string) bool {
	rel, ok := g.rel(path)
	return ok && matchAny(patterns, rel)
}

// chain returns the shortest import chain from `from` to a package for which
// forbidden is true, or nil when there is none.
func (g *graph) chain(from string, forbidden func(string) bool) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		p := g.pkgs[cur]
		if p == nil {
			continue
		}
		for _, imp := range p.Imports {
			if _, seen := prev[imp]; seen {
				continue
			}
			prev[imp] = cur
			if forbidden(imp) {
				var path []string
				for at := imp; at != ""; at = prev[at] {
					path = append(path, g.short(at))
				}
				slices.Reverse(path)
				return path
			}
			queue = append(queue, imp)
		}
	}
	return nil
}

// violations lists every way g breaks r, one message per offending package.
func (r rule) violations(g *graph) []string {
	if r.headless && !g.build.headless() {
		return nil
	}
	var out []string
	for _, path := range g.own {
		rel, _ := g.rel(path)
		if !r.subject(rel) {
			continue
		}
		forbidden := func(dep string) bool { return r.forbidden(g, rel, dep) }
		if r.direct {
			for _, imp := range g.pkgs[path].Imports {
				if forbidden(imp) {
					out = append(out, fmt.Sprintf("[%s] %s imports %s: %s", r.name, rel, g.short(imp), r.why))
				}
			}
			continue
		}
		if c := g.chain(path, forbidden); c != nil {
			out = append(out, fmt.Sprintf("[%s] %s reaches %s through %s: %s",
				r.name, rel, c[len(c)-1], strings.Join(c, " -> "), r.why))
		}
	}
	return out
}

// docViolations lists the packages under cmd/ and internal/ that have no
// package doc comment.
func docViolations(g *graph) []string {
	var out []string
	for _, path := range g.own {
		rel, _ := g.rel(path)
		if !match("cmd/...", rel) && !match("internal/...", rel) {
			continue
		}
		if strings.TrimSpace(g.pkgs[path].Doc) == "" {
			out = append(out, fmt.Sprintf("[package doc] %s has no package doc comment: add a doc.go that says what the package owns "+
				"(a package with only test files needs one too)", rel))
		}
	}
	return out
}

// loadErrors lists what go list could not load: a package of the module, or
// a dependency, whose imports are therefore unknown to the rules.
func loadErrors(g *graph) []string {
	var out []string
	add := func(what string, e *listError) {
		if e != nil {
			out = append(out, fmt.Sprintf("%s: %s", what, strings.TrimSpace(e.Err)))
		}
	}
	for _, path := range g.own {
		p := g.pkgs[path]
		add(g.short(path), p.Error)
		for _, e := range p.DepsErrors {
			add(g.short(path)+" (a dependency)", e)
		}
	}
	return out
}

// build is one configuration the rules are checked in.
type build struct {
	goos, goarch, tags string
}

func (b build) headless() bool { return slices.Contains(strings.Split(b.tags, ","), "headless") }

func (b build) String() string {
	s := b.goos + "_" + b.goarch
	if b.tags != "" {
		s += "_" + strings.ReplaceAll(b.tags, ",", "_")
	}
	return s
}

// builds is every configuration checked: each desktop OS the product ships
// for, with and without the headless tag (files picked by OS or tag may
// import differently). -short checks this machine's OS only.
func builds() []build {
	var out []build
	for _, os := range [][2]string{{"linux", "amd64"}, {"windows", "amd64"}, {"darwin", "arm64"}} {
		if testing.Short() && os[0] != runtime.GOOS {
			continue
		}
		for _, tags := range []string{"", "headless"} {
			out = append(out, build{goos: os[0], goarch: os[1], tags: tags})
		}
	}
	if len(out) == 0 { // -short on another OS
		out = []build{{goos: runtime.GOOS, goarch: runtime.GOARCH}, {goos: runtime.GOOS, goarch: runtime.GOARCH, tags: "headless"}}
	}
	return out
}

// goTool runs the go command in dir and returns its standard output.
func goTool(dir string, env []string, args ...string) ([]byte, error) {
	bin, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			bin = filepath.Join(root, "bin", "go")
		} else {
			return nil, fmt.Errorf("the go command is not on PATH: %w", err)
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// moduleRoot returns the directory and path of the module under test.
func moduleRoot() (dir, module string, err error) {
	out, err := goTool(".", nil, "env", "GOMOD")
	if err != nil {
		return "", "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", "", errors.New("not inside a module (go env GOMOD is empty)")
	}
	dir = filepath.Dir(gomod)
	out, err = goTool(dir, nil, "list", "-m", "-f", "{{.Path}}")
	if err != nil {
		return "", "", err
	}
	return dir, strings.TrimSpace(string(out)), nil
}

// load lists the module's packages and their dependencies for one build.
func load(dir, module string, b build) (*graph, error) {
	env := []string{"GOOS=" + b.goos, "GOARCH=" + b.goarch, "CGO_ENABLED=1"}
	out, err := goTool(dir, env, "list", "-e", "-deps", "-tags="+b.tags,
		"-json=ImportPath,Doc,Imports,DepOnly,Error,DepsErrors", "./...")
	if err != nil {
		return nil, err
	}
	var pkgs []*pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decoding go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return newGraph(b, module, pkgs), nil
}

var loaded struct {
	once   sync.Once
	graphs []*graph
	err    error
}

// graphs loads every build once for all the tests.
func graphs(t *testing.T) []*graph {
	t.Helper()
	loaded.once.Do(func() {
		dir, module, err := moduleRoot()
		if err != nil {
			loaded.err = err
			return
		}
		for _, b := range builds() {
			g, err := load(dir, module, b)
			if err != nil {
				loaded.err = fmt.Errorf("%v: %w", b, err)
				return
			}
			// go list ran over the module if it found this very package.
			if _, ok := g.pkgs[module+"/internal/archtest"]; !ok {
				loaded.err = fmt.Errorf("%v: go list did not list %s/internal/archtest: it did not run over the module", b, module)
				return
			}
			loaded.graphs = append(loaded.graphs, g)
		}
	})
	if loaded.err != nil {
		t.Fatal(loaded.err)
	}
	return loaded.graphs
}

// reportEach fails t once per distinct message across all builds, naming
// the builds it holds in.
func reportEach(t *testing.T, check func(*graph) []string) {
	t.Helper()
	var order []string
	where := map[string][]string{}
	for _, g := range graphs(t) {
		for _, m := range check(g) {
			if where[m] == nil {
				order = append(order, m)
			}
			where[m] = append(where[m], g.build.String())
		}
	}
	for _, m := range order {
		t.Errorf("%s (builds: %s)", m, strings.Join(where[m], ", "))
	}
}

func TestImportRules(t *testing.T) {
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			reportEach(t, r.violations)
			constrained := 0
			for _, g := range graphs(t) {
				for _, p := range g.own {
					if rel, _ := g.rel(p); r.subject(rel) {
						constrained++
					}
				}
			}
			if constrained == 0 {
				t.Logf("no package this rule constrains exists yet")
			}
		})
	}
}

func TestPackageDocs(t *testing.T) {
	reportEach(t, docViolations)
}

// TestPackagesLoad fails on packages go list cannot load: the rules cannot
// see what such a package imports, so they would pass without checking it.
func TestPackagesLoad(t *testing.T) {
	reportEach(t, loadErrors)
}

// TestDukptAllowlist pins the allowlist: the agent's own packages stay
// constrained, and the sandbox, the simulated reader and the roots do not.
func TestDukptAllowlist(t *testing.T) {
	dukptRule := rules[0]
	for _, rel := range dukptNever {
		if !dukptRule.subject(rel) {
			t.Errorf("%s may reach internal/decrypt/dukpt: the allowlist %v is too wide", rel, dukptAllowed)
		}
	}
	for _, rel := range []string{
		"internal/decrypt/dukpt", "internal/gateway/sandbox", "internal/gateway/sandbox/paya",
		"internal/reader/sim", "cmd/posagent", "internal/app", "internal/app/wire",
	} {
		if dukptRule.subject(rel) {
			t.Errorf("%s should be allowed to reach internal/decrypt/dukpt", rel)
		}
	}
	for _, rel := range []string{"internal/decrypt/dukptx", "internal/gateway/sandboxed", "cmd/posagent/sub", "cmd/other"} {
		if !dukptRule.subject(rel) {
			t.Errorf("%s is allowed by a pattern that should not match it", rel)
		}
	}
}

// TestRulesCatchViolations runs the rules over fabricated package graphs, so
// that a rule that could never fire fails here.
func TestRulesCatchViolations(t *testing.T) {
	const m = "example.com/pos"
	type fake struct {
		imports []string // module-relative under cmd/, internal/ and tools/
		doc     string
	}
	full := func(p string) string { // module-relative for the module's top-level directories
		for _, top := range []string{"cmd/", "internal/", "tools/"} {
			if strings.HasPrefix(p, top) {
				return m + "/" + p
			}
		}
		return p
	}
	mk := func(b build, pkgs map[string]fake) *graph {
		var list []*pkg
		for path, f := range pkgs {
			p := &pkg{ImportPath: full(path), Doc: f.doc, DepOnly: !strings.HasPrefix(full(path), m+"/")}
			if p.Doc == "" && !p.DepOnly {
				p.Doc = "Package doc."
			}
			if f.doc == "-" {
				p.Doc = ""
			}
			for _, i := range f.imports {
				p.Imports = append(p.Imports, full(i))
			}
			list = append(list, p)
		}
		return newGraph(b, m, list)
	}
	checkAll := func(g *graph) []string {
		var out []string
		for _, r := range rules {
			out = append(out, r.violations(g)...)
		}
		return append(out, docViolations(g)...)
	}
	linux := build{goos: "linux", goarch: "amd64"}
	headless := build{goos: "linux", goarch: "amd64", tags: "headless"}

	for _, tc := range []struct {
		name  string
		build build
		pkgs  map[string]fake
		want  []string // one substring per expected violation
	}{
		{
			name:  "a clean graph passes",
			build: headless,
			pkgs: map[string]fake{
				"cmd/posagent":                 {imports: []string{"internal/app", "fmt"}},
				"internal/app":                 {imports: []string{"internal/gateway/sandbox", "internal/reader/sim", "internal/engine", "internal/ui"}},
				"internal/gateway/sandbox":     {imports: []string{"internal/decrypt/dukpt", "internal/card"}},
				"internal/reader/sim":          {imports: []string{"internal/decrypt/dukpt", "internal/reader"}},
				"internal/reader":              {imports: []string{"internal/card"}},
				"internal/reader/hid":          {imports: []string{"github.com/karalabe/hid", "internal/reader"}},
				"internal/reader/serial":       {imports: []string{"go.bug.st/serial", "go.bug.st/serial/enumerator"}},
				"internal/engine":              {imports: []string{"internal/card", "internal/decrypt"}},
				"internal/decrypt":             {imports: []string{"internal/card", "internal/emv"}},
				"internal/decrypt/dukpt":       {imports: []string{"crypto/des"}},
				"internal/emv":                 {imports: []string{"internal/emv/tags"}},
				"internal/emv/tags":            {},
				"internal/card":                {imports: []string{"log/slog"}},
				"internal/ui":                  {imports: []string{"internal/card"}},
				"github.com/karalabe/hid":      {},
				"go.bug.st/serial":             {},
				"go.bug.st/serial/enumerator":  {},
				"crypto/des":                   {},
				"fmt":                          {},
				"log/slog":                     {},
				"internal/gateway/payaconnect": {imports: []string{"internal/card", "net/http"}},
				"net/http":                     {},
			},
		},
		{
			name:  "the agent reaching dukpt through the sandbox",
			build: linux,
			pkgs: map[string]fake{
				"internal/engine":          {imports: []string{"internal/gateway/sandbox"}},
				"internal/gateway/sandbox": {imports: []string{"internal/decrypt/dukpt"}},
				"internal/decrypt/dukpt":   {},
			},
			want: []string{"[dukpt stays out of the agent] internal/engine reaches internal/decrypt/dukpt through internal/engine -> internal/gateway/sandbox -> internal/decrypt/dukpt"},
		},
		{
			name:  "a parser importing dukpt directly, and the reader manager importing the simulated reader",
			build: linux,
			pkgs: map[string]fake{
				"internal/decrypt":       {imports: []string{"internal/decrypt/dukpt"}},
				"internal/reader":        {imports: []string{"internal/reader/sim"}},
				"internal/reader/sim":    {imports: []string{"internal/decrypt/dukpt"}},
				"internal/decrypt/dukpt": {},
			},
			want: []string{
				"internal/decrypt reaches internal/decrypt/dukpt through internal/decrypt -> internal/decrypt/dukpt",
				"internal/reader reaches internal/decrypt/dukpt through internal/reader -> internal/reader/sim -> internal/decrypt/dukpt",
			},
		},
		{
			name:  "a leaf importing the module",
			build: linux,
			pkgs: map[string]fake{
				"internal/emv":      {imports: []string{"internal/emv/tags"}},
				"internal/emv/tags": {imports: []string{"internal/card"}},
				"internal/card":     {},
				"internal/config":   {imports: []string{"internal/reader"}},
				"internal/reader":   {},
			},
			want: []string{
				"[card, emv and config are leaves] internal/emv reaches internal/card through internal/emv -> internal/emv/tags -> internal/card",
				"[card, emv and config are leaves] internal/emv/tags reaches internal/card",
				"[card, emv and config are leaves] internal/config reaches internal/reader",
			},
		},
		{
			name:  "the bridge reading the journal, and sale importing the engine",
			build: linux,
			pkgs: map[string]fake{
				"internal/bridge":         {imports: []string{"internal/engine", "internal/engine/journal", "internal/sale"}},
				"internal/engine":         {imports: []string{"internal/engine/journal", "internal/sale"}},
				"internal/engine/journal": {imports: []string{"internal/sale", "internal/card"}},
				"internal/sale":           {imports: []string{"internal/card", "internal/engine"}},
				"internal/card":           {},
				"internal/ui":             {imports: []string{"internal/sale"}},
				"internal/app":            {imports: []string{"internal/engine/journal", "internal/engine"}},
			},
			want: []string{
				"[the journal is the engine's] internal/bridge imports internal/engine/journal",
				"[sale imports only card] internal/sale reaches internal/engine",
			},
		},
		{
			name:  "the UI reaching a gateway through the engine",
			build: linux,
			pkgs: map[string]fake{
				"internal/ui/tray":   {imports: []string{"internal/engine"}},
				"internal/engine":    {imports: []string{"internal/gateway"}},
				"internal/gateway":   {},
				"internal/ui":        {imports: []string{"internal/decrypt"}},
				"internal/decrypt":   {},
				"internal/ui/assets": {},
			},
			want: []string{
				"[ui knows no reader, gateway or decryption] internal/ui/tray reaches internal/gateway through internal/ui/tray -> internal/engine -> internal/gateway",
				"[ui knows no reader, gateway or decryption] internal/ui reaches internal/decrypt",
			},
		},
		{
			name:  "hardware libraries imported outside their seams",
			build: linux,
			pkgs: map[string]fake{
				"internal/reader/magtek":      {imports: []string{"github.com/karalabe/hid"}},
				"internal/reader/idtech":      {imports: []string{"go.bug.st/serial/enumerator", "internal/reader/serial"}},
				"internal/reader/serial":      {imports: []string{"go.bug.st/serial"}},
				"github.com/karalabe/hid":     {},
				"go.bug.st/serial":            {},
				"go.bug.st/serial/enumerator": {},
			},
			want: []string{
				"[only internal/reader/hid imports karalabe/hid] internal/reader/magtek imports github.com/karalabe/hid",
				"[only internal/reader/serial imports go.bug.st/serial] internal/reader/idtech imports go.bug.st/serial/enumerator",
			},
		},
		{
			name:  "Fyne in the headless build",
			build: headless,
			pkgs: map[string]fake{
				"cmd/posagent":           {imports: []string{"internal/ui"}},
				"internal/ui":            {imports: []string{"fyne.io/fyne/v2/widget"}},
				"fyne.io/fyne/v2/widget": {},
			},
			want: []string{"[the headless build links no Fyne] cmd/posagent reaches fyne.io/fyne/v2/widget through cmd/posagent -> internal/ui -> fyne.io/fyne/v2/widget"},
		},
		{
			name:  "Fyne in the desktop build is fine",
			build: linux,
			pkgs: map[string]fake{
				"cmd/posagent":           {imports: []string{"internal/ui"}},
				"internal/ui":            {imports: []string{"fyne.io/fyne/v2/widget"}},
				"fyne.io/fyne/v2/widget": {},
			},
		},
		{
			name:  "a package without a doc comment",
			build: linux,
			pkgs: map[string]fake{
				"internal/engine": {doc: "-"},
				"tools/gen":       {doc: "-"}, // outside cmd/ and internal/: not checked
			},
			want: []string{"[package doc] internal/engine has no package doc comment"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkAll(mk(tc.build, tc.pkgs))
			matched := make([]bool, len(got))
			for _, w := range tc.want {
				i := slices.IndexFunc(got, func(g string) bool { return strings.Contains(g, w) })
				if i < 0 {
					t.Errorf("no violation reported containing %q; got:\n%s", w, strings.Join(got, "\n"))
					continue
				}
				matched[i] = true
			}
			for i, g := range got {
				if !matched[i] {
					t.Errorf("unexpected violation: %s", g)
				}
			}
		})
	}
}

// TestLoadErrorsReported proves a package go list cannot load is reported,
// not silently skipped.
func TestLoadErrorsReported(t *testing.T) {
	g := newGraph(build{goos: "linux", goarch: "amd64"}, "example.com/pos", []*pkg{
		{ImportPath: "example.com/pos/internal/engine", DepsErrors: []*listError{{Err: "no required module provides package example.com/missing"}}},
		{ImportPath: "example.com/pos/internal/bridge", Error: &listError{Err: "import cycle not allowed"}},
		{ImportPath: "example.com/pos/internal/card"},
	})
	got := loadErrors(g)
	if len(got) != 2 || !strings.Contains(strings.Join(got, "\n"), "internal/engine (a dependency): no required module") ||
		!strings.Contains(strings.Join(got, "\n"), "internal/bridge: import cycle") {
		t.Errorf("loadErrors = %q", got)
	}
}
