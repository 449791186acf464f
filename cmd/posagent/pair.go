package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/posagent/posagent/internal/app"
	"github.com/posagent/posagent/internal/bridge"
	"github.com/posagent/posagent/internal/config"
)

func init() {
	register(command{name: "pair", summary: "approve a web origin for the browser bridge and print its token (--revoke, --list)", run: runPair})
}

// runPair edits the pairing store the running agent reads: approving ahead
// of time, revoking and listing need no running agent, and a running one
// sees the change at its next request.
func runPair(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("pair", stderr)
	origin := fs.String("origin", "", "the POS page's origin, e.g. https://pos.example.com (or \"native\" for clients that send no Origin)")
	revoke := fs.Bool("revoke", false, "remove the origin's pairing and all its tokens")
	list := fs.Bool("list", false, "list the paired origins")
	stateDir := fs.String("state-dir", "", "the agent's state directory (default: per-OS state directory, the service's when run as root)")
	demo := fs.Bool("demo", false, "pair with posagent demo (its state directory) rather than the service")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: posagent pair --origin URL [--revoke] | --list  [--state-dir DIR | --demo]\n\n"+
			"Approves a web origin ahead of time: prints a token for clients that keep their own\n"+
			"(native POS apps), and lets the origin's next page that says hello without a token\n"+
			"pair without asking the cashier.\n\n"+
			"Without --state-dir or --demo it pairs with the agent that is running: the service's\n"+
			"(or your own posagent run's) when it runs, else a running posagent demo.\n\n")
		printFlags(stderr, fs)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*origin == "") == !*list || (*revoke && *list) {
		fs.Usage()
		return 2
	}
	dir, agent := pairTarget(ctx, *stateDir, *demo)
	store, err := bridge.OpenPairings(dir)
	if err != nil {
		fmt.Fprintf(stderr, "posagent pair: %v\n", err)
		return 1
	}
	if agent != nil {
		fmt.Fprintf(stdout, "agent: %s %s at %s (pid %d, state %s)\n", agent.Name(), agent.Version, agent.URL, agent.PID, dir)
	} else {
		fmt.Fprintf(stdout, "agent: none running with state %s: the change applies when it starts\n", dir)
		warnOtherAgent(ctx, stderr, dir)
	}
	switch {
	case *list:
		return pairList(store, stdout, stderr)
	case *revoke:
		ok, err := store.Revoke(*origin)
		if err != nil {
			fmt.Fprintf(stderr, "posagent pair: %v\n", err)
			return 1
		}
		if !ok {
			fmt.Fprintf(stderr, "posagent pair: %s was not paired (see posagent pair --list)\n", *origin)
			return 1
		}
		fmt.Fprintf(stdout, "revoked %s: its pages must pair again\n", *origin)
		return 0
	}
	norm, err := bridge.NormalizeOrigin(*origin)
	if err != nil {
		fmt.Fprintf(stderr, "posagent pair: %v\n", err)
		return 2
	}
	token, err := store.Approve(norm, true)
	if err != nil {
		fmt.Fprintf(stderr, "posagent pair: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "paired %s\ntoken: %s\n\n"+
		"A page of this origin that says hello without a token is now paired once without asking;\n"+
		"a native client sends {\"type\":\"hello\",\"id\":\"1\",\"token\":\"...\"}. The token is shown only now\n"+
		"(the store at %s keeps its SHA-256 hash). Revoke with: posagent pair --revoke --origin %s\n",
		norm, token, store.Path(), norm)
	return 0
}

// stateDirFor is the state directory a command that edits or reads an
// agent's files means: the one asked for (--state-dir), the demo's
// (--demo), else the default one — the service's as root.
func stateDirFor(flagDir string, demo bool) string {
	switch {
	case flagDir != "":
		return flagDir
	case demo:
		return filepath.Join(config.UserPaths().StateDir, "demo")
	case os.Geteuid() == 0:
		return config.SystemPaths().StateDir // the service's
	}
	return config.UserPaths().StateDir
}

// pairTarget picks the state directory to edit and the agent running with
// it (nil if none): the one asked for; else the default one (the service's
// as root) when an agent runs there; else the demo's when a demo runs;
// else the default one.
func pairTarget(ctx context.Context, flagDir string, demo bool) (string, *app.Runtime) {
	running := func(dir string) *app.Runtime {
		if r, err := app.ReadRuntime(ctx, dir); err == nil {
			return &r
		}
		return nil
	}
	if flagDir != "" || demo {
		dir := stateDirFor(flagDir, demo)
		return dir, running(dir)
	}
	dir := stateDirFor("", false)
	if r := running(dir); r != nil {
		return dir, r
	}
	demoDir := stateDirFor("", true)
	if r := running(demoDir); r != nil {
		return demoDir, r
	}
	return dir, nil
}

// warnOtherAgent says so when an agent answers on the listen address
// (POSAGENT_LISTEN, else the default) although none runs with dir: a demo
// of another user (`sudo posagent pair` looks at the service's directory)
// or one started with --state-dir. Pairing dir would not admit the page.
func warnOtherAgent(ctx context.Context, stderr io.Writer, dir string) {
	listen := cmp.Or(os.Getenv("POSAGENT_LISTEN"), config.DefaultListen)
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	url := "http://" + listen + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"healthz", nil)
	if err != nil {
		return
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		fmt.Fprintf(stderr, "posagent pair: note: an agent answers at %s but does not read %s: it runs as another user or with its own --state-dir.\n"+
			"  Run posagent pair as the user who started it (posagent pair --demo for a demo), or pass its --state-dir (the demo prints it at start).\n", url, dir)
	}
}

func pairList(store *bridge.Pairings, stdout, stderr io.Writer) int {
	list, err := store.List()
	if err != nil {
		fmt.Fprintf(stderr, "posagent pair: %v\n", err)
		return 1
	}
	if len(list) == 0 {
		fmt.Fprintf(stdout, "no paired origins (%s)\n", store.Path())
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORIGIN\tTOKENS\tPENDING\tSINCE")
	for _, p := range list {
		pending := "-"
		if p.Claims > 0 {
			pending = "next hello"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Origin, p.Tokens, pending, p.Created.Format("2006-01-02 15:04"))
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}
