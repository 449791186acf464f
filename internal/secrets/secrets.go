package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zalando/go-keyring"
)

// service is the keyring service name entries are stored under.
const service = "posagent"

// ErrNotFound means no secret of that name is stored.
var ErrNotFound = errors.New("secret not stored")

// Keyring is the OS keyring's API (zalando/go-keyring); tests fake it.
type Keyring interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

type osKeyring struct{}

func (osKeyring) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (osKeyring) Set(s, u, p string) error        { return keyring.Set(s, u, p) }
func (osKeyring) Delete(s, u string) error        { return keyring.Delete(s, u) }

// Store reads and writes named secrets.
type Store struct {
	ring Keyring
	dir  string
}

// New returns a store using the OS keyring with a file fallback in dir.
func New(dir string) *Store { return &Store{ring: osKeyring{}, dir: dir} }

// NewWith returns a store over the given keyring (nil: files only).
func NewWith(ring Keyring, dir string) *Store { return &Store{ring: ring, dir: dir} }

func (s *Store) file(name string) string { return filepath.Join(s.dir, "secret-"+name) }

// Get returns the secret: keyring first, then the fallback file.
func (s *Store) Get(name string) (string, error) {
	if s.ring != nil {
		v, err := s.ring.Get(service, name)
		if err == nil {
			return v, nil
		}
	}
	b, err := os.ReadFile(s.file(name))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	if st, err := os.Stat(s.file(name)); err == nil && st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("secret file %s is readable by other users (mode %v): run chmod 600 on it", s.file(name), st.Mode().Perm())
	}
	// A key file written by hand may start with a byte-order mark
	// (Windows Notepad) and end with CR LF: neither is part of the key.
	v := strings.TrimSpace(strings.TrimPrefix(string(b), "\ufeff"))
	if v == "" {
		return "", fmt.Errorf("secret file %s is empty: write the key in it, or remove the file", s.file(name))
	}
	return v, nil
}

// Set stores the secret in the keyring, or — when there is none — in the
// fallback file. It reports where it went ("keyring" or the file path).
func (s *Store) Set(name, value string) (string, error) {
	if s.ring != nil {
		if err := s.ring.Set(service, name, value); err == nil {
			_ = os.Remove(s.file(name)) // one place only
			return "keyring", nil
		}
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	tmp := s.file(name) + ".tmp"
	if err := os.WriteFile(tmp, []byte(value+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	if err := os.Rename(tmp, s.file(name)); err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	return s.file(name), nil
}

// Delete removes the secret from both places.
func (s *Store) Delete(name string) error {
	if s.ring != nil {
		_ = s.ring.Delete(service, name)
	}
	if err := os.Remove(s.file(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("secret %s: %w", name, err)
	}
	return nil
}
