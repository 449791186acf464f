package bridge

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/statedir"
)

// PairingsFile is the pairing store's file name in the state dir.
const PairingsFile = "pairings.json"

// Pairing store limits: an origin used from a few browsers needs a few
// tokens; a page that pairs in a loop must not grow the file forever.
const (
	maxTokensPerOrigin = 16
	tokenBytes         = 32
)

// Pairings is the pairing store: approved origins with the SHA-256 hashes
// of their tokens, in a 0600 JSON file. Tokens themselves are never
// stored: a copy of the file lets nobody in.
//
// The running agent and `posagent pair` share the file. Every check looks
// at the file's size and modification time and reloads it when it changed,
// so a revocation from the command line takes effect at the next request;
// every change re-reads the file just before writing it (by rename), so the
// two processes do not undo each other's changes in practice.
type Pairings struct {
	path string
	now  func() time.Time

	mu    sync.Mutex
	data  pairFile
	stamp fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

type pairFile struct {
	Version int                   `json:"version"`
	Origins map[string]*pairEntry `json:"origins"`
}

type pairEntry struct {
	Tokens []tokenEntry `json:"tokens"`
	// Claims counts tokenless hellos that are paired without asking the
	// cashier: `posagent pair --origin` grants one, so that a page
	// approved ahead of time gets its own token on its first hello.
	Claims  int       `json:"claims,omitempty"`
	Created time.Time `json:"created"`
}

type tokenEntry struct {
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

// PairedOrigin is one entry as List shows it.
type PairedOrigin struct {
	Origin  string
	Tokens  int
	Claims  int
	Created time.Time
}

// OpenPairings opens (or prepares) the pairing store in dir.
func OpenPairings(dir string) (*Pairings, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pairing store: create %s: %w", dir, err)
	}
	p := &Pairings{path: filepath.Join(dir, PairingsFile), now: time.Now}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reloadLocked(true); err != nil {
		return nil, err
	}
	return p, nil
}

// Path is the store's file.
func (p *Pairings) Path() string { return p.path }

// reloadLocked reads the file if it changed since the last read (always
// when force).
func (p *Pairings) reloadLocked(force bool) error {
	st, err := os.Stat(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		p.data, p.stamp = pairFile{Version: 1, Origins: map[string]*pairEntry{}}, fileStamp{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("pairing store %s: %w", p.path, err)
	}
	stamp := fileStamp{mod: st.ModTime(), size: st.Size(), ok: true}
	if !force && stamp == p.stamp {
		return nil
	}
	if st.Mode().Perm()&0o077 != 0 {
		// Hashes are not secrets, but the file says which sites may
		// charge cards: keep it private as the agent writes it.
		_ = os.Chmod(p.path, 0o600)
	}
	raw, err := os.ReadFile(p.path)
	if err != nil {
		return fmt.Errorf("pairing store %s: %w", p.path, err)
	}
	var f pairFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("pairing store %s is damaged (%v): fix or delete it, then pair the origins again", p.path, err)
	}
	if f.Origins == nil {
		f.Origins = map[string]*pairEntry{}
	}
	for o, e := range f.Origins {
		if e == nil {
			delete(f.Origins, o)
		}
	}
	p.data, p.stamp = f, stamp
	return nil
}

func (p *Pairings) saveLocked() error {
	p.data.Version = 1
	raw, err := json.MarshalIndent(p.data, "", "  ")
	if err != nil {
		return fmt.Errorf("pairing store: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p.path), ".pairings-*.tmp")
	if err != nil {
		return fmt.Errorf("pairing store: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("pairing store: %w", err)
	}
	if err := statedir.MatchOwner(tmp.Name()); err != nil {
		tmp.Close()
		return fmt.Errorf("pairing store: giving the file to the state directory's owner: %w", err)
	}
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("pairing store: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("pairing store: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pairing store: %w", err)
	}
	if err := os.Rename(tmp.Name(), p.path); err != nil {
		return fmt.Errorf("pairing store: %w", err)
	}
	if st, err := os.Stat(p.path); err == nil {
		p.stamp = fileStamp{mod: st.ModTime(), size: st.Size(), ok: true}
	}
	return nil
}

// newToken makes a token and its hash.
func newToken() (token, hash string) {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Approve pairs origin and returns a new token for it. With claim, the next
// tokenless hello from the origin is paired too, without asking (see
// pairEntry.Claims).
func (p *Pairings) Approve(origin string, claim bool) (string, error) {
	o, err := NormalizeOrigin(origin)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reloadLocked(true); err != nil {
		return "", err
	}
	token := p.addTokenLocked(o)
	if claim {
		p.data.Origins[o].Claims = 1
	}
	if err := p.saveLocked(); err != nil {
		return "", err
	}
	return token, nil
}

func (p *Pairings) addTokenLocked(o string) string {
	e := p.data.Origins[o]
	if e == nil {
		e = &pairEntry{Created: p.now().UTC()}
		p.data.Origins[o] = e
	}
	token, hash := newToken()
	e.Tokens = append(e.Tokens, tokenEntry{SHA256: hash, Created: p.now().UTC()})
	if len(e.Tokens) > maxTokensPerOrigin {
		// The oldest token goes: a browser that still holds it pairs again.
		e.Tokens = e.Tokens[len(e.Tokens)-maxTokensPerOrigin:]
	}
	return token
}

// Claim pairs a tokenless hello of an origin approved ahead of time: it
// returns a new token when the origin has a claim left.
func (p *Pairings) Claim(origin string) (string, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reloadLocked(true); err != nil {
		return "", false, err
	}
	e := p.data.Origins[origin]
	if e == nil || e.Claims <= 0 {
		return "", false, nil
	}
	e.Claims--
	token := p.addTokenLocked(origin)
	if err := p.saveLocked(); err != nil {
		return "", false, err
	}
	return token, true, nil
}

// Valid reports whether token is one of origin's tokens. The hashes are
// compared in constant time.
func (p *Pairings) Valid(origin, token string) bool {
	if token == "" || len(token) > maxTokenLen {
		return false
	}
	want := hashToken(token)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reloadLocked(false); err != nil {
		return false
	}
	e := p.data.Origins[origin]
	if e == nil {
		return false
	}
	ok := 0
	for _, t := range e.Tokens {
		ok |= subtle.ConstantTimeCompare([]byte(t.SHA256), []byte(want))
	}
	return ok == 1
}

// Has reports whether origin is in the store (with tokens or a claim): its
// connections are counted with the known origins'.
func (p *Pairings) Has(origin string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reloadLocked(false); err != nil {
		return false
	}
	return p.data.Origins[origin] != nil
}

// GrantClaim lets the origin's next tokenless hello pair without asking.
func (p *Pairings) GrantClaim(origin string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reloadLocked(true); err != nil {
		return err
	}
	e := p.data.Origins[origin]
	if e == nil {
		e = &pairEntry{Created: p.now().UTC()}
		p.data.Origins[origin] = e
	}
	e.Claims = 1
	return p.saveLocked()
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// AddToken stores a new token for origin (a cashier's "always").
func (p *Pairings) AddToken(origin string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reloadLocked(true); err != nil {
		return "", err
	}
	token := p.addTokenLocked(origin)
	if err := p.saveLocked(); err != nil {
		return "", err
	}
	return token, nil
}

// Revoke removes origin and all its tokens. It reports whether the origin
// was paired.
func (p *Pairings) Revoke(origin string) (bool, error) {
	o, err := NormalizeOrigin(origin)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reloadLocked(true); err != nil {
		return false, err
	}
	if _, ok := p.data.Origins[o]; !ok {
		return false, nil
	}
	delete(p.data.Origins, o)
	return true, p.saveLocked()
}

// List returns the paired origins, sorted.
func (p *Pairings) List() ([]PairedOrigin, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.reloadLocked(false); err != nil {
		return nil, err
	}
	out := make([]PairedOrigin, 0, len(p.data.Origins))
	for o, e := range p.data.Origins {
		out = append(out, PairedOrigin{Origin: o, Tokens: len(e.Tokens), Claims: e.Claims, Created: e.Created})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Origin < out[j].Origin })
	return out, nil
}
