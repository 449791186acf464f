package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// release is the version this source tree is on its way to, a semantic
// version whose major number is the websocket protocol's (v1): a client
// built for 1.x talks to any 1.x agent. Bump it when releasing (tag
// v<release>); docs/protocol.md#versions says what each part means.
const release = "1.2.0"

// Set by the Makefile with -ldflags "-X main.version=… -X main.commit=…":
// version is release on the release's tag, release-dev+<commit> otherwise.
// A plain go build leaves them empty and agentVersion fills them in.
var (
	version = ""
	commit  = ""
)

// agentVersion is the version the agent reports (posagent version,
// welcome, /healthz): the Makefile's, or release-dev+<commit> for a build
// without it ("+unknown" outside a git checkout).
func agentVersion() string { return buildVersion().Version }

func init() {
	register(command{name: "version", summary: "print version, commit, Go version and build tags", run: runVersion})
}

type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	Tags      string `json:"build_tags"`
	Platform  string `json:"platform"`
}

func buildVersion() versionInfo {
	v := versionInfo{Commit: commit, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "-tags":
				v.Tags = s.Value
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			}
		}
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	if v.Version = version; v.Version == "" {
		c := v.Commit
		if len(c) > 7 {
			c = c[:7]
		}
		v.Version = release + "-dev+" + c
	}
	return v
}

func runVersion(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("version", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	v := buildVersion()
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(v)
		return 0
	}
	tags := v.Tags
	if tags == "" {
		tags = "(none)"
	}
	fmt.Fprintf(stdout, "posagent %s\ncommit:     %s\ngo:         %s\nplatform:   %s\nbuild tags: %s\n",
		v.Version, v.Commit, v.GoVersion, v.Platform, tags)
	return 0
}
