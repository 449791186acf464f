package journal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/sale"
)

func openTemp(t *testing.T) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, path
}

func TestPutGetDurable(t *testing.T) {
	j, path := openTemp(t)
	r := Record{TransactionAPIID: "a1", Action: "sale", Amount: "12.34", State: sale.StateSending, MaskedPAN: "5428********0254", LastFour: "0254"}
	if err := j.Put(r); err != nil {
		t.Fatal(err)
	}
	j.Close()
	// A new process sees what the first wrote.
	j2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	got, ok, err := j2.Get("a1")
	if err != nil || !ok {
		t.Fatalf("Get: %v %v", ok, err)
	}
	if got.Amount != "12.34" || got.State != sale.StateSending || got.Created.IsZero() || got.Updated.IsZero() {
		t.Errorf("got %+v", got)
	}
	un, _ := j2.Unfinished()
	if len(un) != 1 || un[0].TransactionAPIID != "a1" {
		t.Errorf("unfinished %+v", un)
	}
}

func TestUnackedAndAck(t *testing.T) {
	j, _ := openTemp(t)
	for _, r := range []Record{
		{TransactionAPIID: "done-1", State: sale.StateDone, Outcome: "approved"},
		{TransactionAPIID: "done-2", State: sale.StateDone, Outcome: "declined", Acked: true},
		{TransactionAPIID: "pend", State: sale.StatePending},
		{TransactionAPIID: "unk", State: sale.StateUnknown},
	} {
		if err := j.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	un, _, _ := j.Unacked("", 0, nil)
	if len(un) != 1 || un[0].TransactionAPIID != "done-1" {
		t.Fatalf("unacked %+v", un)
	}
	if err := j.Ack("done-1"); err != nil {
		t.Fatal(err)
	}
	if un, _, _ := j.Unacked("", 0, nil); len(un) != 0 {
		t.Fatalf("still unacked %+v", un)
	}
	if err := j.Ack("nope"); err == nil {
		t.Error("ack of unknown id succeeded")
	}
	unf, _ := j.Unfinished()
	if len(unf) != 1 || unf[0].TransactionAPIID != "unk" {
		t.Errorf("unfinished %+v", unf)
	}
}

func TestRefusesCardData(t *testing.T) {
	j, _ := openTemp(t)
	bad := []Record{
		{TransactionAPIID: "x1", Description: "card 4111111111111111"},
		{TransactionAPIID: "x2", MaskedPAN: "5428377011880254"},
		{TransactionAPIID: "x3", Error: "track %B4111" + "111111111111^DOE/J^2512?"},
		{TransactionAPIID: "x4", OrderNum: "INV6011" + "000990139424"},
		{TransactionAPIID: "x5", Description: "visa 4111-1111-1111-1111"},
	}
	for _, r := range bad {
		if err := j.Put(r); !errors.Is(err, ErrCardData) {
			t.Errorf("%s: Put = %v, want ErrCardData", r.TransactionAPIID, err)
		}
	}
	// Ids and times that happen to be long digit runs are not card numbers.
	ok := Record{TransactionAPIID: "1732250000000", OrderNum: "1732250000018", Description: "20%Bonus coffee, order 00000000000000017"}
	if err := j.Put(ok); err != nil {
		t.Errorf("false positive: %v", err)
	}
	if err := j.Put(Record{}); err == nil {
		t.Error("record without id accepted")
	}
}

func TestCorruptFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer j.Close()
	aside := j.Report().MovedAside
	if aside == "" || !strings.HasPrefix(aside, path+".damaged-") {
		t.Fatalf("MovedAside = %q", aside)
	}
	if b, err := os.ReadFile(aside); err != nil || !strings.HasPrefix(string(b), "not a bbolt file") {
		t.Fatalf("damaged file not kept: %v", err)
	}
	if err := j.Put(Record{TransactionAPIID: "fresh", State: sale.StateDone}); err != nil {
		t.Fatalf("fresh journal unusable: %v", err)
	}
}

func TestSecondOpenFailsClearly(t *testing.T) {
	_, path := openTemp(t)
	_, err := Open(path, nil)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
	// The journal in use is not taken for damaged and moved aside.
	if aside, _ := filepath.Glob(path + ".damaged-*"); len(aside) != 0 {
		t.Fatalf("the live journal was moved aside: %v", aside)
	}
}

func FuzzHasCardNumber(f *testing.F) {
	f.Add([]byte("4111111111111111"))
	f.Add([]byte(`{"t":"2026-11-22T04:43:00.123456789Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = hasCardNumber(b)
	})
}
