package app

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestReadRuntime: posagent pair trusts a runtime file only while its agent
// runs — the process exists and the URL answers /healthz — so a file left
// by a killed agent never sends a pairing to the wrong directory.
func TestReadRuntime(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	defer healthy.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()

	tests := []struct {
		name string
		rt   *Runtime // nil: no file
		raw  string   // instead of rt
		ok   bool
	}{
		{"running", &Runtime{PID: os.Getpid(), URL: healthy.URL + "/", Demo: true, Version: "1.2.0"}, "", true},
		{"no file", nil, "", false},
		{"not JSON", nil, "pid=1", false},
		{"nothing listens at the URL", &Runtime{PID: os.Getpid(), URL: closed}, "", false},
		{"the process is gone (another agent may have its port)", &Runtime{PID: 1 << 22, URL: healthy.URL + "/"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.rt != nil {
				remove, err := writeRuntime(dir, *tc.rt)
				if err != nil {
					t.Fatal(err)
				}
				defer remove()
				if st, _ := os.Stat(filepath.Join(dir, RuntimeFile)); st.Mode().Perm() != 0o600 {
					t.Errorf("runtime file mode %v, want 0600", st.Mode().Perm())
				}
			} else if tc.raw != "" {
				if err := os.WriteFile(filepath.Join(dir, RuntimeFile), []byte(tc.raw), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r, err := ReadRuntime(context.Background(), dir)
			if (err == nil) != tc.ok {
				t.Fatalf("ReadRuntime: %+v, %v; want ok=%v", r, err, tc.ok)
			}
			if tc.ok && (r.StateDir != dir || r.Name() != "posagent demo" || r.Version != "1.2.0") {
				t.Errorf("runtime %+v", r)
			}
		})
	}
}
