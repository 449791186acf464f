package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type mapRing map[string]string

func (m mapRing) Get(s, u string) (string, error) {
	v, ok := m[s+"/"+u]
	if !ok {
		return "", errors.New("not found")
	}
	return v, nil
}
func (m mapRing) Set(s, u, p string) error { m[s+"/"+u] = p; return nil }
func (m mapRing) Delete(s, u string) error { delete(m, s+"/"+u); return nil }

type noRing struct{}

func (noRing) Get(string, string) (string, error) {
	return "", errors.New("no secret service on this kiosk")
}
func (noRing) Set(string, string, string) error { return errors.New("no secret service on this kiosk") }
func (noRing) Delete(string, string) error      { return errors.New("no secret service on this kiosk") }

func TestKeyringPreferred(t *testing.T) {
	ring := mapRing{}
	s := NewWith(ring, t.TempDir())
	where, err := s.Set("user_api_key", "k1")
	if err != nil || where != "keyring" || ring["posagent/user_api_key"] != "k1" {
		t.Fatalf("Set: %q %v %v", where, err, ring)
	}
	if v, err := s.Get("user_api_key"); err != nil || v != "k1" {
		t.Fatalf("Get: %q %v", v, err)
	}
}

func TestFileFallback(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := NewWith(noRing{}, dir)
	if _, err := s.Get("user_api_key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Set: %v", err)
	}
	where, err := s.Set("user_api_key", "k2")
	if err != nil || where != filepath.Join(dir, "secret-user_api_key") {
		t.Fatalf("Set: %q %v", where, err)
	}
	st, _ := os.Stat(where)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	if v, _ := s.Get("user_api_key"); v != "k2" {
		t.Fatalf("Get %q", v)
	}
	// A file others can read is refused with the fix.
	if err := os.Chmod(where, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("user_api_key"); err == nil {
		t.Fatal("world-readable secret accepted")
	}
	if err := s.Delete("user_api_key"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("user_api_key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
}

// A key file written by hand on a kiosk: Windows Notepad starts it with a
// byte-order mark, editors end it with CR LF. The key sent to the gateway
// is the key, not "\ufeffkey" (a 401 nobody can see the cause of); a file
// with nothing in it says so, naming the file.
func TestHandWrittenKeyFile(t *testing.T) {
	dir := t.TempDir()
	s := NewWith(noRing{}, dir)
	path := filepath.Join(dir, "secret-user_api_key")
	for _, content := range []string{"\ufeffk3\r\n", "k3\r\n", " k3 \n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Get("user_api_key"); err != nil || v != "k3" {
			t.Errorf("file %q: Get = %q, %v; want k3", content, v, err)
		}
	}
	if err := os.WriteFile(path, []byte("\ufeff\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get("user_api_key"); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty key file: Get = %q, %v; want an error naming the file and saying it is empty", v, err)
	}
}
