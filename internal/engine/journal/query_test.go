package journal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/sale"
	bolt "go.etcd.io/bbolt"
)

var epoch = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// seeded makes n varied records: states, origins, last fours, amounts and
// creation times spread over n minutes (several share a time, so ids break
// ties).
func seeded(n int, seed uint64) []Record {
	rnd := rand.New(rand.NewPCG(seed, 1))
	states := []sale.State{sale.StateDone, sale.StateDone, sale.StateDone, sale.StatePending, sale.StateSending, sale.StateUnknown}
	origins := []string{"https://a.example", "https://b.example", "ui"}
	recs := make([]Record, n)
	for i := range recs {
		r := Record{
			TransactionAPIID: fmt.Sprintf("id-%06d", i),
			Origin:           origins[rnd.IntN(len(origins))],
			Action:           "sale",
			Amount:           fmt.Sprintf("%d.%02d", 1+rnd.IntN(5), rnd.IntN(3)),
			LastFour:         fmt.Sprintf("%04d", rnd.IntN(7)),
			State:            states[rnd.IntN(len(states))],
			Created:          epoch.Add(time.Duration(rnd.IntN(n)) * time.Minute),
		}
		if r.State == sale.StateDone {
			r.Outcome = "approved"
			r.TransactionID = fmt.Sprintf("tx%d", rnd.IntN(n/3+1))
			r.Acked = rnd.IntN(2) == 0
		}
		recs[i] = r
	}
	return recs
}

// want is History computed the slow way: every record, filtered, newest
// first (ties: larger id first, the index's order).
func want(all []Record, q sale.Query) []string {
	var out []Record
	for i := range all {
		if matches(&q, &all[i]) {
			out = append(out, all[i])
		}
	}
	slices.SortFunc(out, func(a, b Record) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return -cmpString(a.TransactionAPIID, b.TransactionAPIID)
	})
	return ids(out)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ids(recs []Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.TransactionAPIID)
	}
	return out
}

// pages lists q page by page.
func pages(t *testing.T, j *Journal, q sale.Query) []string {
	t.Helper()
	out := []string{}
	for n := 0; ; n++ {
		p, err := j.History(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) > q.Limit {
			t.Fatalf("page of %d, limit %d", len(p.Records), q.Limit)
		}
		out = append(out, ids(p.Records)...)
		if !p.More || n > 10000 {
			return out
		}
		q.Before = p.Next
	}
}

func TestHistoryMatchesAScan(t *testing.T) {
	j, path := openTemp(t)
	all := seeded(600, 7)
	if err := j.PutAll(all); err != nil {
		t.Fatal(err)
	}
	// Change some records the way the engine does, so index entries move.
	for i := 0; i < len(all); i += 5 {
		all[i].State, all[i].Outcome, all[i].LastFour, all[i].Amount = sale.StateDone, "declined", "9999", "7.00"
		all[i].TransactionID = fmt.Sprintf("moved%d", i%4)
		if err := j.Put(all[i]); err != nil {
			t.Fatal(err)
		}
	}
	queries := []sale.Query{
		{Limit: 7},
		{Limit: 1000},
		{LastFour: "0003", Limit: 9},
		{LastFour: "9999", Limit: 50},
		{Amount: "3.01", Limit: 4},
		{TransactionID: "tx5", Limit: 2},
		{TransactionID: "moved1", Limit: 10},
		{TransactionID: "nope", Limit: 10},
		{Since: epoch.Add(100 * time.Minute), Until: epoch.Add(200 * time.Minute), Limit: 11},
		{LastFour: "0001", Amount: "2.00", Since: epoch.Add(50 * time.Minute), Limit: 3},
		{Until: epoch.Add(30 * time.Minute), Limit: 5},
	}
	check := func(when string) {
		for _, q := range queries {
			if got, w := pages(t, j, q), want(all, q); !slices.Equal(got, w) {
				t.Errorf("%s: %+v:\n got %v\nwant %v", when, q, got, w)
			}
		}
	}
	check("written")
	// An earlier version's journal gets the same answers once Open has
	// built its indexes.
	j.Close()
	dropIndexes(t, path)
	j2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	j = j2
	check("migrated")
}

func TestIndexesFollowState(t *testing.T) {
	j, _ := openTemp(t)
	all := seeded(300, 3)
	if err := j.PutAll(all); err != nil {
		t.Fatal(err)
	}
	// Finish and acknowledge some, re-open others.
	for i := 0; i < len(all); i += 3 {
		r := &all[i]
		switch {
		case r.State != sale.StateDone:
			r.State, r.Outcome = sale.StateDone, "approved"
			if err := j.Put(*r); err != nil {
				t.Fatal(err)
			}
		case !r.Acked:
			if err := j.Ack(r.TransactionAPIID); err != nil {
				t.Fatal(err)
			}
			r.Acked = true
		default:
			r.State = sale.StateUnknown
			if err := j.Put(*r); err != nil {
				t.Fatal(err)
			}
		}
	}
	slow := func(keep func(*Record) bool) []string {
		var out []string
		for i := range all {
			if keep(&all[i]) {
				out = append(out, all[i].TransactionAPIID)
			}
		}
		slices.Sort(out)
		return out
	}
	sorted := func(recs []Record, err error) []string {
		if err != nil {
			t.Fatal(err)
		}
		out := ids(recs)
		for i := 1; i < len(recs); i++ {
			if recs[i].Created.After(recs[i-1].Created) {
				t.Errorf("not newest first at %d", i)
			}
		}
		slices.Sort(out)
		if len(out) == 0 {
			return nil
		}
		return out
	}
	if got, w := sorted(j.Unfinished()), slow(func(r *Record) bool { return r.State.Unfinished() }); !slices.Equal(got, w) {
		t.Errorf("Unfinished %v, want %v", got, w)
	}
	if got, w := sorted(j.InFlight()), slow(func(r *Record) bool { return r.State != sale.StateDone }); !slices.Equal(got, w) {
		t.Errorf("InFlight %v, want %v", got, w)
	}
	for _, o := range []string{"", "https://a.example", "ui", "https://none.example"} {
		w := slow(func(r *Record) bool { return r.State == sale.StateDone && !r.Acked && (o == "" || r.Origin == o) })
		un, n, err := j.Unacked(o, 0, nil)
		if got := sorted(un, err); !slices.Equal(got, w) {
			t.Errorf("Unacked(%q) %v, want %v", o, got, w)
		}
		if n != len(w) {
			t.Errorf("Unacked(%q) counts %d, holds %d", o, n, len(w))
		}
		// The newest few, as status asks: the first of the whole list.
		few, n3, err := j.Unacked(o, 3, nil)
		if err != nil || n3 != len(w) || len(few) != min(3, len(w)) {
			t.Fatalf("Unacked(%q, 3) = %d records, count %d, %v; want %d, count %d", o, len(few), n3, err, min(3, len(w)), len(w))
		}
		for i := range few {
			if few[i].TransactionAPIID != un[i].TransactionAPIID {
				t.Errorf("Unacked(%q, 3)[%d] = %s, newest is %s", o, i, few[i].TransactionAPIID, un[i].TransactionAPIID)
			}
		}
		for _, r := range un {
			byClient, err := j.UnackedByClient(r.Origin, r.ClientID)
			if err != nil || !slices.ContainsFunc(byClient, func(b Record) bool { return b.TransactionAPIID == r.TransactionAPIID }) {
				t.Errorf("UnackedByClient(%q, %q) misses %s (%v)", r.Origin, r.ClientID, r.TransactionAPIID, err)
			}
		}
	}
	st, err := j.Stats()
	if err != nil || st.Records != len(all) || st.InFlight != len(slow(func(r *Record) bool { return r.State != sale.StateDone })) {
		t.Errorf("stats %+v %v", st, err)
	}
}

// Of many callers creating one transaction_api_id at once, exactly one
// creates it; the others get the record that holds it.
func TestCreateOnce(t *testing.T) {
	j, _ := openTemp(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := range 8 {
		wg.Go(func() {
			r, ok, err := j.Create(Record{TransactionAPIID: "one", Origin: fmt.Sprint(i), State: sale.StatePending})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				created++
			}
			if r.TransactionAPIID != "one" || r.Origin == "" {
				t.Errorf("Create returned %+v", r)
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d callers created the record", created)
	}
}

// Every read error surfaces: a record that does not decode is an error for
// Get, Create, Ack, Unacked and History, not "absent"; a closed journal's
// Ack is not ErrNotFound.
func TestReadErrorsSurface(t *testing.T) {
	j, _ := openTemp(t)
	if err := j.Put(Record{TransactionAPIID: "bad", Origin: "o", State: sale.StateDone, LastFour: "1234"}); err != nil {
		t.Fatal(err)
	}
	if err := j.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTx).Put([]byte("bad"), []byte(`{"transaction_api_id":`))
	}); err != nil {
		t.Fatal(err)
	}
	if _, found, err := j.Get("bad"); err == nil {
		t.Errorf("Get: found=%v, no error", found)
	}
	if _, created, err := j.Create(Record{TransactionAPIID: "bad"}); err == nil {
		t.Errorf("Create over an unreadable record: created=%v, no error", created)
	}
	if err := j.Ack("bad"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Ack: %v", err)
	}
	// The list reads (status, recovery, history) skip the record and
	// report it — logged once, counted for the cashier — rather than let
	// one damaged value block every status (issue 16).
	if un, _, err := j.Unacked("o", 0, nil); err != nil || len(un) != 0 {
		t.Errorf("Unacked = %v, %v: want the bad record skipped", un, err)
	}
	if p, err := j.History(sale.Query{LastFour: "1234"}); err != nil || len(p.Records) != 0 {
		t.Errorf("History = %v, %v: want the bad record skipped", p.Records, err)
	}
	if n := j.Unreadable(); n != 1 {
		t.Errorf("Unreadable = %d, want 1: a skipped record must be reported", n)
	}
	if err := j.Ack("absent"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Ack of an absent id: %v, want ErrNotFound", err)
	}
	j.Close()
	if err := j.Ack("bad"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Ack on a closed journal: %v, want a disk error", err)
	}
}

// TestHistoryFarRange: a range reaching past what a time.UnixNano holds
// (before 1678, after 2262) — `posagent journal export --until
// 9999-12-31`, the natural "everything" — is every record of it. Its key
// was UnixNano's undefined result, and the export was empty with exit 0.
func TestHistoryFarRange(t *testing.T) {
	j, _ := openTemp(t)
	all := seeded(300, 7)
	if err := j.PutAll(all); err != nil {
		t.Fatal(err)
	}
	for _, q := range []sale.Query{
		{Since: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), Limit: 50},
		{Since: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 50},
		{Until: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 50},
		{Since: time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 50},
	} {
		got := pages(t, j, q)
		if w := want(all, q); len(got) != len(w) || len(w) != len(all) {
			t.Errorf("History(%v .. %v): %d records, want all %d", q.Since, q.Until, len(got), len(all))
		}
	}
}
