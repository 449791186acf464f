// Command leakscan scans files for card data (see internal/leakscan) and
// exits 1 when it finds any: `make leakscan` runs it over the logs, the
// journals, the websocket captures, the sandbox's response capture and the
// test output of a debug-level run. An empty or unreadable file is an error
// (exit 2): a scan of nothing proves nothing.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/posagent/posagent/internal/leakscan"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run scans the files named in args and returns the exit code: 0 clean,
// 1 findings, 2 usage or I/O error.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leakscan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	allowHex := fs.Bool("allow-ciphertext", false, "do not report long hex runs (for output whose contract includes e_track_data)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: leakscan [-allow-ciphertext] FILE...")
		return 2
	}
	var total, bytes, lines int64
	for _, name := range fs.Args() {
		found, st, err := scanFile(name, leakscan.Options{AllowCiphertext: *allowHex})
		if err != nil {
			fmt.Fprintln(stderr, "leakscan:", err)
			return 2
		}
		for _, x := range found {
			fmt.Fprintln(stdout, x)
		}
		fmt.Fprintf(stdout, "leakscan: %s: %d bytes, %d lines, %d findings\n", name, st.bytes, st.lines, len(found))
		total += int64(len(found))
		bytes += st.bytes
		lines += st.lines
	}
	fmt.Fprintf(stdout, "leakscan: %d files, %d bytes, %d lines, %d findings\n", fs.NArg(), bytes, lines, total)
	if total > 0 {
		return 1
	}
	return 0
}

type stats struct{ bytes, lines int64 }

// counter counts the bytes and newlines the scanner read.
type counter struct {
	r        io.Reader
	newlines int64
	last     byte
	n        int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	for _, b := range p[:n] {
		if b == '\n' {
			c.newlines++
		}
	}
	if n > 0 {
		c.last = p[n-1]
	}
	return n, err
}

// stats counts lines as the scanner sees them: a last line without a
// newline (a binary journal may hold no newline at all) is a line too.
func (c *counter) stats() stats {
	st := stats{bytes: c.n, lines: c.newlines}
	if c.n > 0 && c.last != '\n' {
		st.lines++
	}
	return st
}

func scanFile(name string, o leakscan.Options) ([]leakscan.Finding, stats, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, stats{}, fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	c := &counter{r: f}
	found, err := leakscan.Scan(name, c, o)
	if err != nil {
		return nil, c.stats(), fmt.Errorf("scan %s: %w", name, err)
	}
	if c.n == 0 {
		return nil, c.stats(), fmt.Errorf("%s is empty: a scan of nothing proves nothing", name)
	}
	return found, c.stats(), nil
}
