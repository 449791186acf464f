// Command leakscan scans files for card data (see internal/leakscan) and
// exits 1 when it finds any: `make leakscan` runs it over the logs, the
// journal and the test output of a debug-level run.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/posagent/posagent/internal/leakscan"
)

func main() {
	allowHex := flag.Bool("allow-ciphertext", false, "do not report long hex runs (for output whose contract includes e_track_data)")
	flag.Parse()
	total := 0
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "leakscan:", err)
			os.Exit(2)
		}
		found, err := leakscan.Scan(name, f, leakscan.Options{AllowCiphertext: *allowHex})
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "leakscan:", err)
			os.Exit(2)
		}
		for _, x := range found {
			fmt.Println(x)
		}
		total += len(found)
	}
	fmt.Printf("leakscan: %d files, %d findings\n", flag.NArg(), total)
	if total > 0 {
		os.Exit(1)
	}
}
