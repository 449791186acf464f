package payaconnect

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
)

// countingRT answers nothing and counts what would have left the machine.
type countingRT struct{ n atomic.Int32 }

func (c *countingRT) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("test transport: not sent")
}

// The client applies gateway.LiveHost: a test-key read is refused before
// sending on the production host, naming it, and not on the sandbox host.
func TestTestKeyReadByHost(t *testing.T) {
	read := &card.Read{Envelope: card.Envelope{Format: card.FormatIDTech, Data: "02BD01…03",
		KSN: card.KSN{0x62, 0x99, 0x49, 0x00, 0x73, 0x00, 0x04, 0x20, 0x00, 0x01}}, EntryMode: card.EntrySwiped}
	if !read.Envelope.KSN.IsTestKey() {
		t.Fatal("fixture: not a test-key KSN")
	}
	for _, tc := range []struct {
		url     string
		refused bool
	}{
		{"https://api.payaconnect.com", true},
		{"https://api.sandbox.payaconnect.com", false},
	} {
		rt := &countingRT{}
		c := testClient(t, tc.url, func(o *Options) { o.Transport = rt })
		_, err := c.Do(context.Background(), gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: read, TransactionAPIID: "tk1"})
		if tc.refused {
			if !gateway.IsInvalid(err) || !strings.Contains(err.Error(), "api.payaconnect.com") || rt.n.Load() != 0 {
				t.Errorf("%s: %v (%d sent), want refused before sending, naming the host", tc.url, err, rt.n.Load())
			}
			continue
		}
		if gateway.IsInvalid(err) || rt.n.Load() == 0 {
			t.Errorf("%s: %v (%d sent), want the read sent", tc.url, err, rt.n.Load())
		}
	}
}
