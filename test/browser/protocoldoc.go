package browser

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// DocExamples returns the agent-to-client messages shown in the ```json
// blocks of docs/protocol.md (requests, which have no reply-only type, are
// left out by the caller's kinds).
func DocExamples(path string) ([]map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	for _, blk := range blocks {
		dec := json.NewDecoder(strings.NewReader(blk[1]))
		for {
			var m map[string]any
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: a json block does not parse: %w", path, err)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// ReadFrames reads one JSON message per line.
func ReadFrames(path string) ([]map[string]any, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var out []map[string]any
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// Kind names a message for matching a documented example with real ones:
// its type plus what picks its shape (a result's outcome, an error's code,
// a reader event, a replayed result).
func Kind(m map[string]any) string {
	k, _ := m["type"].(string)
	for _, f := range []string{"outcome", "code", "event"} {
		if v, ok := m[f].(string); ok {
			k += "/" + v
		}
	}
	if m["replay"] == true {
		k += "/replay"
	}
	return k
}

// Shape lists m's key paths ("card.masked_pan", "readers[].id").
func Shape(m any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				out = append(out, p)
				walk(p, x)
			}
		case []any:
			if len(t) > 0 {
				walk(prefix+"[]", t[0])
			}
		}
	}
	walk("", m)
	sort.Strings(out)
	return out
}

// maskShape is how a masked PAN is masked: "4*4" for 4111********1111.
func maskShape(pan string) string {
	m := regexp.MustCompile(`^(\d*)(\D+)(\d*)$`).FindStringSubmatch(pan)
	if m == nil {
		return "?" + pan
	}
	return fmt.Sprintf("%d*%d", len(m[1]), len(m[3]))
}

// CompareExample checks a documented message against the real ones of its
// kind: the same fields (both ways), masked card numbers masked the same
// way, and a decline's verbiage as the gateway words it. It returns the
// differences, or nil.
func CompareExample(doc map[string]any, real []map[string]any) []string {
	var best []string
	for i, r := range real {
		d := diffShape(doc, r)
		if i == 0 || len(d) < len(best) {
			best = d
		}
		if len(best) == 0 {
			break
		}
	}
	problems := best
	for _, path := range []string{"masked_pan", "card.masked_pan"} {
		dv := lookup(doc, path)
		if dv == "" {
			continue
		}
		want := map[string]bool{}
		for _, r := range real {
			if rv := lookup(r, path); rv != "" {
				want[maskShape(rv)] = true
			}
		}
		if len(want) > 0 && !want[maskShape(dv)] {
			problems = append(problems, fmt.Sprintf("%s %q is masked %s; the agent masks %v", path, dv, maskShape(dv), keys(want)))
		}
	}
	if dv := lookup(doc, "transaction.verbiage"); dv != "" {
		words := map[string]bool{}
		for _, r := range real {
			if lookup(r, "transaction.amount") == lookup(doc, "transaction.amount") {
				words[lookup(r, "transaction.verbiage")] = true
			}
		}
		if len(words) > 0 && !words[dv] {
			problems = append(problems, fmt.Sprintf("verbiage %q; the sandbox says %v for %s", dv, keys(words), lookup(doc, "transaction.amount")))
		}
	}
	return problems
}

func diffShape(doc, real map[string]any) []string {
	ds, rs := set(Shape(doc)), set(Shape(real))
	var out []string
	for k := range ds {
		if !rs[k] {
			out = append(out, "documented field "+k+" is not sent")
		}
	}
	for k := range rs {
		if !ds[k] {
			out = append(out, "sent field "+k+" is not documented")
		}
	}
	sort.Strings(out)
	return out
}

func lookup(m map[string]any, path string) string {
	var v any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	s, _ := v.(string)
	return s
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
