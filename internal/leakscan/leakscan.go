package leakscan

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/posagent/posagent/internal/card"
)

// Finding is one suspected leak. Excerpt is masked.
type Finding struct {
	File string
	Line int
	Kind string // pan, track1, track2, key, ciphertext
	What string // masked description
}

func (f Finding) String() string { return fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Kind, f.What) }

var (
	track1 = regexp.MustCompile(`%B\d{12,19}\^`)
	track2 = regexp.MustCompile(`;\d{12,19}=\d{4}`)
	// Ciphertext of a track is at least 40 bytes: 80 hex digits in a row.
	// Gateway ids (24), KSNs (20), UUIDs (dashes) and hashes (40) are shorter.
	cipherHex = regexp.MustCompile(`[0-9A-Fa-f]{80,}`)
	// The public test keys: a log that prints one prints keys.
	keys = []string{"0123456789ABCDEFFEDCBA9876543210", "FEDCBA9876543210F1F1F1F1F1F1F1F1"}
)

// Options tune what counts as a leak.
type Options struct {
	// AllowCiphertext skips the long-hex rule (e.g. for decode output, whose
	// contract is to print e_track_data).
	AllowCiphertext bool
}

// Scan reads r line by line and returns the findings.
func Scan(name string, r io.Reader, o Options) ([]Finding, error) {
	var out []Finding
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		out = append(out, scanLine(name, n, sc.Bytes(), o)...)
	}
	return out, sc.Err()
}

func scanLine(name string, n int, line []byte, o Options) []Finding {
	var out []Finding
	add := func(kind, what string) { out = append(out, Finding{File: name, Line: n, Kind: kind, What: what}) }
	if pan := findPAN(line); pan != "" {
		add("pan", "a card number "+string(card.Mask(pan)))
	}
	if track1.Match(line) {
		add("track1", "clear track 1 data")
	}
	if track2.Match(line) {
		add("track2", "clear track 2 data")
	}
	up := bytes.ToUpper(line)
	for _, k := range keys {
		if bytes.Contains(up, []byte(k)) {
			add("key", "a public test key ("+k[:4]+"…)")
		}
	}
	if !o.AllowCiphertext {
		if m := cipherHex.Find(line); m != nil {
			add("ciphertext", fmt.Sprintf("a %d-digit hex run (ciphertext-sized)", len(m)))
		}
	}
	return out
}

// findPAN returns the first clear test card number in line: a 13–19 digit
// run that passes Luhn, starts like a brand and is a known test card,
// standing alone or embedded in other text (a leak inside hex or JSON is
// still a leak — the scan is stricter than the journal's guard).
func findPAN(line []byte) string {
	run := 0
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] >= '0' && line[i] <= '9' {
			run++
			continue
		}
		if run >= 13 {
			d := string(line[i-run : i])
			for l := 19; l >= 13; l-- {
				for s := 0; s+l <= len(d); s++ {
					if c := d[s : s+l]; card.Luhn(c) && card.BrandOf(c) != card.BrandUnknown && knownTestCard(c) {
						return c
					}
				}
			}
		}
		run = 0
	}
	return ""
}

// knownTestCard limits matches to the card numbers the tests, the demo and
// the chaos run use — the fixed test cards and the numbers made up on the
// test BINs — so that digit runs in ids, timestamps and hex that happen to
// pass Luhn are not reported.
func knownTestCard(pan string) bool {
	for _, p := range TestCards {
		if p == pan {
			return true
		}
	}
	for _, b := range TestBINs {
		if len(pan) == b.Length && strings.HasPrefix(pan, b.Prefix) {
			return true
		}
	}
	return false
}
