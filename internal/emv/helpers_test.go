package emv

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hx decodes hex written with optional spaces; it is for literals in tests.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// capture loads a reader capture from testdata (hex text, one line).
func capture(tb testing.TB, name string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".hex"))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return b
}

// node is a comparable view of a TLV: constructed values are dropped because
// re-encoding may change their inner length forms (81 13 → 13).
type node struct {
	Tag       string `json:"tag"`
	Len       int    `json:"len"`
	Value     string `json:"value,omitempty"`
	Masked    bool   `json:"masked,omitempty"`
	Encrypted bool   `json:"encrypted,omitempty"`
	Children  []node `json:"children,omitempty"`
}

func nodes(l []TLV) []node {
	var out []node
	for _, t := range l {
		n := node{Tag: t.Tag.String(), Len: len(t.Value), Masked: t.Masked, Encrypted: t.Encrypted}
		if t.IsConstructed() {
			n.Children = nodes(t.Children)
		} else {
			n.Value = strings.ToUpper(hex.EncodeToString(t.Value))
		}
		out = append(out, n)
	}
	return out
}

// countNodes is the number of objects in a tree.
func countNodes(l []TLV) int {
	n := len(l)
	for _, t := range l {
		n += countNodes(t.Children)
	}
	return n
}

// shape is nodes without the lengths of constructed objects, which
// re-encoding with minimal length forms may shrink.
func shape(l []TLV) []node {
	var strip func([]node) []node
	strip = func(ns []node) []node {
		for i := range ns {
			if ns[i].Children != nil || ns[i].Value == "" && ns[i].Len > 0 {
				ns[i].Len = 0
				ns[i].Children = strip(ns[i].Children)
			}
		}
		return ns
	}
	return strip(nodes(l))
}
