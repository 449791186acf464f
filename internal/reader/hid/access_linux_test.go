package hid

import "testing"

func TestAccessPath(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{{"1-4.2", true}, {"3-1", true}, {"../x", false}, {"1-4/..", false}, {"", false}} {
		if validSysfsName(tc.s) != tc.ok {
			t.Errorf("validSysfsName(%q) = %v", tc.s, !tc.ok)
		}
	}
}
