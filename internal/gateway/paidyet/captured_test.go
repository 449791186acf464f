package paidyet

import (
	"encoding/json"
	"testing"
)

// A capture leaves PaidYET's status "approved": Captured reads the batch a
// captured auth moves into (seed 003), or the type turning sale.
func TestCapturedFromLookup(t *testing.T) {
	for _, tc := range []struct {
		json string
		want bool
	}{
		{`{"id":1,"type":"auth","status":"approved","batch":null}`, false},
		{`{"id":1,"type":"auth","status":"approved","batch":{"id":7,"status":"open"}}`, true},
		{`{"id":1,"type":"sale","status":"approved"}`, true},
		{`{"id":1,"type":"sale","status":"declined","batch":{"id":7}}`, false},
		{`{"id":1,"type":"auth","status":"voided","batch":{"id":7}}`, false},
	} {
		var tx Transaction
		if err := json.Unmarshal([]byte(tc.json), &tx); err != nil {
			t.Fatal(err)
		}
		if got := tx.Normalize().Captured; got != tc.want {
			t.Errorf("%s: captured %v, want %v", tc.json, got, tc.want)
		}
	}
}
