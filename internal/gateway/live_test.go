package gateway

import "testing"

func TestLiveHost(t *testing.T) {
	for _, tc := range []struct {
		url, want string
	}{
		{"https://api.payaconnect.com", "api.payaconnect.com"},
		{"https://API.PayaConnect.com./v2/", "api.payaconnect.com"},
		{"https://api.payaconnect.com:443", "api.payaconnect.com"},
		{"https://api.paidyet.com/v3/", "api.paidyet.com"},
		{"https://api.sandbox.payaconnect.com", ""},
		{"https://api.sandbox-paidyet.com/v3/", ""},
		{"http://127.0.0.1:7381", ""},
		{"http://localhost:7381", ""},
		{"embedded", ""},
		{"", ""},
		{"https://api.payaconnect.com.evil.example", ""},
		{"https://evil.example/api.payaconnect.com", ""},
		{"::not a url", ""},
	} {
		if got := LiveHost(tc.url); got != tc.want {
			t.Errorf("LiveHost(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
