package proto

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadersDocTimeouts: docs/readers.md states the contact flow's
// timeouts; they must be the ones the handler uses.
func TestReadersDocTimeouts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "readers.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, want := range []string{
		fmt.Sprintf("within %d s (`HostResponseTimeout`", int(DefaultHostResponseTimeout.Seconds())),
		fmt.Sprintf("exchange itself waits at most %d s", int(completionTimeout.Seconds())),
		fmt.Sprintf("(at most %d s)", int((completionTimeout + ReplyTimeout).Seconds())),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/readers.md does not say %q", want)
		}
	}
}
