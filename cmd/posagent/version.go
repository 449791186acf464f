package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set by the Makefile with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

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
	v := versionInfo{Version: version, Commit: commit, GoVersion: runtime.Version(),
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
