package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.fuzztime, "fuzztime", "10m", "how long to fuzz each target (a duration, or Nx for N executions)")
	flag.StringVar(&o.tags, "tags", "headless", "build tags for go test")
	flag.StringVar(&o.match, "run", "", "only targets whose name matches this regexp")
	flag.StringVar(&o.goCmd, "go", "go", "the go command")
	flag.Parse()
	pkgs := flag.Args()
	if len(pkgs) == 0 {
		pkgs = []string{"./..."}
	}
	os.Exit(run(o, pkgs, os.Stdout))
}

type options struct {
	fuzztime, tags, match, goCmd string
}

// target is one fuzz function in one package.
type target struct {
	pkg, dir, name string
}

func run(o options, pkgs []string, out io.Writer) int {
	var match *regexp.Regexp
	if o.match != "" {
		var err error
		if match, err = regexp.Compile(o.match); err != nil {
			fmt.Fprintf(out, "fuzz: -run: %v\n", err)
			return 2
		}
	}
	targets, err := findTargets(o.goCmd, pkgs)
	if err != nil {
		fmt.Fprintf(out, "fuzz: %v\n", err)
		return 1
	}
	var failed, raced []string
	n := 0
	for _, t := range targets {
		if match != nil && !match.MatchString(t.name) {
			continue
		}
		n++
		fmt.Fprintf(out, "fuzz %s %s (%s)\n", t.pkg, t.name, o.fuzztime)
		switch fuzzOne(o, t, out) {
		case passed:
		case coordinatorRace:
			raced = append(raced, t.pkg+" "+t.name)
		default:
			failed = append(failed, t.pkg+" "+t.name)
		}
	}
	fmt.Fprintf(out, "fuzz: %d targets, %d failed, %d ended by the Go 1.26 coordinator race (go.dev/issue/75804) and replayed clean\n",
		n, len(failed), len(raced))
	for _, r := range raced {
		fmt.Fprintf(out, "  race, replayed clean: %s\n", r)
	}
	for _, f := range failed {
		fmt.Fprintf(out, "  FAILED: %s\n", f)
	}
	if n == 0 {
		fmt.Fprintln(out, "fuzz: no fuzz targets matched")
		return 1
	}
	if len(failed) > 0 {
		return 1
	}
	return 0
}

var fuzzFunc = regexp.MustCompile(`(?m)^func (Fuzz\w*)\(\w+ \*testing\.F\)`)

// findTargets lists the fuzz functions of the packages, in go list order.
func findTargets(goCmd string, pkgs []string) ([]target, error) {
	args := append([]string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}"}, pkgs...)
	b, err := exec.Command(goCmd, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("go list: %w", err)
	}
	var ts []target
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		pkg, dir, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
		slices.Sort(files)
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			for _, m := range fuzzFunc.FindAllSubmatch(src, -1) {
				ts = append(ts, target{pkg: pkg, dir: dir, name: string(m[1])})
			}
		}
	}
	return ts, nil
}

type verdict int

const (
	passed verdict = iota
	coordinatorRace
	finding
)

func fuzzOne(o options, t target, out io.Writer) verdict {
	corpus := filepath.Join(t.dir, "testdata", "fuzz", t.name)
	before := entries(corpus)
	var buf bytes.Buffer
	cmd := exec.Command(o.goCmd, "test", "-tags", o.tags, "-run", "^$", "-fuzz", "^"+t.name+"$",
		"-fuzztime", o.fuzztime, "-parallel", "1", t.pkg)
	cmd.Stdout = io.MultiWriter(out, &buf)
	cmd.Stderr = cmd.Stdout
	if cmd.Run() == nil {
		return passed
	}
	var written []string
	for _, e := range entries(corpus) {
		if !slices.Contains(before, e) {
			written = append(written, e)
		}
	}
	if classify(buf.String(), t.name, written) != coordinatorRace {
		return finding
	}
	fmt.Fprintf(out, "fuzz: %s ended with a bare \"context deadline exceeded\" and wrote no input: replaying its seeds and corpus\n", t.name)
	start := time.Now()
	replay := exec.Command(o.goCmd, "test", "-tags", o.tags, "-count", "1", "-run", "^"+t.name+"$", t.pkg)
	replay.Stdout, replay.Stderr = out, out
	if err := replay.Run(); err != nil {
		fmt.Fprintf(out, "fuzz: %s: the replay failed: %v\n", t.name, err)
		return finding
	}
	fmt.Fprintf(out, "fuzz: %s replayed clean in %s\n", t.name, time.Since(start).Round(time.Millisecond))
	return coordinatorRace
}

// classify reads the output of a failed `go test -fuzz` run. It is the
// coordinator race only when nothing was written to the corpus and the
// target's failure report is the one line "context deadline exceeded":
// a crash, a failed check, a hang or a failing seed all say more.
func classify(output, name string, written []string) verdict {
	if len(written) > 0 || strings.Contains(output, "Failing input written to") {
		return finding
	}
	lines := strings.Split(strings.ReplaceAll(output, "\r\n", "\n"), "\n")
	head := "--- FAIL: " + name + " ("
	var report []string
	fails := 0
	for i, l := range lines {
		if !strings.HasPrefix(l, "--- FAIL: ") {
			continue
		}
		fails++
		if !strings.HasPrefix(l, head) {
			return finding
		}
		for _, r := range lines[i+1:] {
			if !strings.HasPrefix(r, "    ") {
				break
			}
			report = append(report, strings.TrimSpace(r))
		}
	}
	if fails == 1 && len(report) == 1 && report[0] == "context deadline exceeded" {
		return coordinatorRace
	}
	return finding
}

func entries(dir string) []string {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(des))
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}
