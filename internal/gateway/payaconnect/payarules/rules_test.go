package payarules

import (
	"slices"
	"strings"
	"testing"
)

// The table itself: one letter per action column, letters from the legend,
// no read-only field with rules, enumerations within their lengths.
func TestTableShape(t *testing.T) {
	for name, f := range Fields {
		if f.Cols != "" && len(f.Cols) != len(Columns) {
			t.Errorf("%s: %d column letters, want %d", name, len(f.Cols), len(Columns))
		}
		for _, c := range f.Cols {
			if !strings.ContainsRune("ROCN", c) {
				t.Errorf("%s: column letter %q", name, c)
			}
		}
		if f.ReadOnly && (f.Cols != "" || f.Max != 0 || len(f.OneOf) > 0) {
			t.Errorf("%s: read-only with rules", name)
		}
		for _, v := range f.OneOf {
			if f.Max > 0 && len(v) > f.Max || len(v) < f.Min {
				t.Errorf("%s: value %q breaks its own lengths", name, v)
			}
		}
		if !SafeName(name) {
			t.Errorf("%s: not a safe name", name)
		}
	}
	for _, a := range Columns {
		if !Known(a) {
			t.Errorf("column %s is not a known action", a)
		}
	}
}

func TestCheck(t *testing.T) {
	sale := func(kv ...string) map[string]string {
		m := map[string]string{"action": "sale", "payment_method": "cc", "transaction_amount": "1.00", "account_number": "4111111111111111", "exp_date": "1230"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name   string
		put    bool
		values map[string]string
		fields []string // fields named, sorted
	}{
		{"conforming sale", false, sale(), nil},
		{"no action", false, map[string]string{}, []string{"action"}},
		{"upper-case action", false, sale("action", "SALE"), []string{"action"}},
		{"void as POST", false, map[string]string{"action": "void"}, []string{"action"}},
		{"sale as PUT", true, sale(), []string{"action"}},
		{"void with a card", true, map[string]string{"action": "void", "track_data": "x"}, []string{"track_data"}},
		{"required amount", false, sale("transaction_amount", ""), []string{"transaction_amount"}},
		{"avsonly without amount", false, sale("action", "avsonly", "transaction_amount", ""), nil},
		{"tipadjust without amount", true, map[string]string{"action": "tipadjust"}, []string{"transaction_amount"}},
		{"order_num dash", false, sale("order_num", "A-1"), []string{"order_num"}},
		{"unknown", false, sale("trnsaction_amount", "1"), []string{"trnsaction_amount"}},
		{"unsafe unknown", false, sale("4111111111111111", "1"), []string{"transaction"}},
		{"read only", false, sale("status_id", "101"), []string{"status_id"}},
		{"e_format case", false, sale("e_format", "KSN"), []string{"e_format"}},
		{"serial too long and not hex", false, sale("e_serial_number", "FFFF9876543210E00000000G"), []string{"e_serial_number", "e_serial_number"}},
		{"date", false, sale("checkin_date", "2026-02-30x"), []string{"checkin_date", "checkin_date"}},
		{"decimal", false, sale("tax", "1.2.3"), []string{"tax"}},
		{"flag", false, sale("no_show", "yes"), []string{"no_show"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range Check(tc.put, tc.values) {
				got = append(got, v.Field)
				if v.Message == "" {
					t.Errorf("%s: empty message", v.Field)
				}
			}
			if !slices.Equal(got, tc.fields) {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}

// FuzzCheck: any values, no panic; messages never carry a value.
func FuzzCheck(f *testing.F) {
	f.Add(false, "sale", "order_num", "4111111111111111")
	f.Add(true, "void", "e_track_data", "%B4111111111111111^X^3012?")
	f.Add(false, "x", "4111111111111111", "1")
	f.Fuzz(func(t *testing.T, put bool, action, name, value string) {
		vs := Check(put, map[string]string{"action": action, name: value})
		for i, v := range vs {
			if i > 0 && vs[i-1].Field > v.Field {
				t.Fatalf("not sorted: %v", vs)
			}
			if len(value) >= 6 && value != action && strings.Contains(v.Message, value) && !strings.Contains(Label(name), value) {
				t.Fatalf("message carries the value: %q", v.Message)
			}
			if !SafeName(v.Field) && v.Field != "transaction" {
				t.Fatalf("unsafe field name echoed: %q", v.Field)
			}
		}
	})
}
