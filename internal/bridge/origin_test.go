package bridge

import "testing"

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://pos.example.com", "https://pos.example.com"},
		{"HTTPS://POS.Example.COM/", "https://pos.example.com"},
		{"https://pos.example.com:443", "https://pos.example.com"},
		{"http://pos.example.com:80", "http://pos.example.com"},
		{"http://pos.example.com:8443", "http://pos.example.com:8443"},
		{"http://[::1]:7380", "http://[::1]:7380"},
		{"http://127.0.0.1:07380", ""}, // a browser never writes a leading zero: not the own page
		{"http://127.0.0.1:017380", ""},
		{"native", "native"},
		{"null", ""},
		{"", ""},
		{"pos.example.com", ""},
		{"ws://127.0.0.1:7380", ""},
		{"file:///tmp/pos.html", ""},
		{"https://pos.example.com/app", ""},
		{"https://pos.example.com?x=1", ""},
		{"https://pos.example.com#f", ""},
		{"https://user@pos.example.com", ""},
		{"https://pos.example.com:0", ""},
		{"https://pos.example.com:99999", ""},
		{"https://:443", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeOrigin(tt.in)
		if (err != nil) != (tt.want == "") || got != tt.want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestIsSelf(t *testing.T) {
	for o, want := range map[string]bool{
		"http://127.0.0.1:7380": true, "http://localhost:7380": true, "http://[::1]:7380": true,
		"https://127.0.0.1:7380": false, "http://127.0.0.1:7381": false, "http://127.0.0.2:7380": false, "http://evil.localhost:7380": false,
	} {
		if isSelf(o, 7380) != want {
			t.Errorf("isSelf(%q) = %v", o, !want)
		}
	}
}
