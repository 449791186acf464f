// Command demo-server serves the bridge over the fake engine for manual
// browser testing: go run ./test/browser/cmd/demo-server
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/posagent/posagent/test/browser"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := browser.Start(ctx, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-server:", err)
		os.Exit(1)
	}
	fmt.Printf("BASE_URL=%s\nFOREIGN_URL=%s\n", s.AgentURL, s.ForeignURL)
	<-ctx.Done()
	s.Wait()
}
