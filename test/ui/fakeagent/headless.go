//go:build headless

package main

import (
	"fmt"
	"os"

	"github.com/posagent/posagent/internal/ui"
)

// main reports that this build has no window, so `go build -tags headless
// ./...` still builds every package.
func main() {
	fmt.Fprintln(os.Stderr, "fakeagent:", ui.ErrHeadless)
	os.Exit(1)
}
