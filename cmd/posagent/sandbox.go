package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// sandboxListen is the standalone sandbox's default address: next to the
// agent's 127.0.0.1:7380, so that both can run on one machine.
const sandboxListen = "127.0.0.1:7381"

func init() {
	register(command{name: "sandbox", summary: "serve only the emulated gateways (Paya Connect v2, PaidYET v3)", run: runSandbox})
}

func runSandbox(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("sandbox", stderr)
	listen := fs.String("listen", sandboxListen, "address to listen on (loopback only unless --insecure-listen-any)")
	anyAddr := fs.Bool("insecure-listen-any", false, "allow a non-loopback listen address")
	verbose := fs.Bool("v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := sandboxLoopbackOnly(*listen); err != nil && !*anyAddr {
		fmt.Fprintf(stderr, "posagent sandbox: %v; pass --insecure-listen-any to serve other hosts\n", err)
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "posagent sandbox: listen: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: sandbox.New(sandbox.Options{Logger: log}), ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "posagent sandbox serving %s\n"+
		"  Paya Connect v2: %s/v2/  headers developer-id: %s  user-id: %s  user-api-key: %s\n"+
		"                   location_id %s, product_transaction_id cc %s, ach %s\n"+
		"  PaidYET v3:      %s/v3/  POST /v3/login {\"subdomain\": %q, \"key\": %q}\n"+
		"Stop with Ctrl-C.\n",
		base, base, sandbox.DeveloperID, sandbox.UserID, sandbox.UserAPIKey,
		sandbox.LocationID, sandbox.ProductCCID, sandbox.ProductACHID,
		base, sandbox.PaidYETSubdomain, sandbox.PaidYETKey)

	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintf(stderr, "posagent sandbox: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	// Let requests in flight (an 8.0x delayed sale) finish, within reason.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "posagent sandbox: %v\n", err)
		return 1
	}
	return 0
}

// sandboxLoopbackOnly refuses listen addresses that other hosts can reach.
func sandboxLoopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen address %q is not a loopback address", addr)
}
