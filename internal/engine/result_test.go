package engine

import (
	"reflect"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
)

// TestResultOfCopiesEveryField: every field of sale.Result has a journal
// field of the same name and type, and resultOf copies it, so a field added
// to both is not silently dropped at the engine's edge (as CryptogramType
// was, on the way through the journal's own receipt type).
func TestResultOfCopiesEveryField(t *testing.T) {
	var rec journal.Record
	rv := reflect.ValueOf(&rec).Elem()
	rt := reflect.TypeOf(sale.Result{})
	for i := range rt.NumField() {
		f := rt.Field(i)
		jf := rv.FieldByName(f.Name)
		if !jf.IsValid() {
			t.Fatalf("sale.Result.%s has no journal.Record field", f.Name)
		}
		if jf.Type() != f.Type {
			t.Fatalf("sale.Result.%s is %s, journal.Record.%s is %s", f.Name, f.Type, f.Name, jf.Type())
		}
		switch v := any(jf.Addr().Interface()).(type) {
		case *string:
			*v = "v-" + f.Name
		case *sale.State:
			*v = sale.StateUnknown
		case *sale.Outcome:
			*v = sale.OutcomeDeclined
		case *int:
			*v = i + 1
		case *bool:
			*v = true
		case *time.Time:
			*v = time.Unix(int64(1000+i), 0).UTC()
		case *card.Receipt:
			*v = card.Receipt{TC: "8A1F", AID: "A0000000031010", CryptogramType: "ARQC"}
		default:
			t.Fatalf("sale.Result.%s: type %s has no test value: add one", f.Name, f.Type)
		}
	}
	got := reflect.ValueOf(resultOf(&rec))
	for i := range rt.NumField() {
		name := rt.Field(i).Name
		if want := rv.FieldByName(name).Interface(); !reflect.DeepEqual(got.Field(i).Interface(), want) {
			t.Errorf("resultOf drops %s: got %v, want %v", name, got.Field(i).Interface(), want)
		}
	}
}
