package journal

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/sale"
)

// TestUnackedCostBoundedByReplay: a page that never acknowledges (the ack
// is the page's to send; a page written before it, or one that ignores
// it, never does) keeps every result of its origin unacknowledged, and
// retention keeps every unacknowledged record whatever its age. Its
// status — every page load and reconnect — then decodes its whole
// history, although the bridge replays only the newest 32 of it: the
// cost the issue set out to remove, for exactly that page.
func TestUnackedCostBoundedByReplay(t *testing.T) {
	if os.Getenv("POSAGENT_KNOWN_DEFECTS") == "" {
		t.Skip("known defect, not fixed yet (needs an unacked index in time order per origin and a bounded Unacked): set POSAGENT_KNOWN_DEFECTS=1 to run")
	}
	j, _ := openTemp(t)
	now := time.Now().UTC()
	put := func(origin string, n int) {
		var recs []Record
		for i := range n {
			recs = append(recs, Record{TransactionAPIID: fmt.Sprintf("%s-%06d", origin, i), Origin: origin, Action: "sale",
				Amount: "1.00", State: sale.StateDone, Outcome: sale.OutcomeApproved, Created: now.Add(-time.Duration(i) * time.Minute)})
			if len(recs) == 2000 {
				if err := j.PutAll(recs); err != nil {
					t.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		if err := j.PutAll(recs); err != nil {
			t.Fatal(err)
		}
	}
	put("http://small", 32)
	put("http://never-acks", 30000)
	cost := func(origin string) time.Duration {
		best := time.Hour
		for range 5 {
			t0 := time.Now()
			if _, err := j.Unacked(origin); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(t0))
		}
		return best
	}
	small, big := cost("http://small"), cost("http://never-acks")
	t.Logf("Unacked: 32 results %v, 30,000 results %v", small, big)
	if big > 20*small+10*time.Millisecond {
		t.Errorf("Unacked of an origin with 30,000 unacknowledged results took %v, %0.fx one with 32: status costs a page that never acks its whole history", big, float64(big)/float64(small))
	}
}
