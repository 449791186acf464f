package bridge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPairingsStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	p, err := OpenPairings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := p.List(); len(l) != 0 {
		t.Fatalf("new store lists %v", l)
	}
	tok, err := p.Approve("https://a.example/", false)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Valid("https://a.example", tok) || p.Valid("https://b.example", tok) || p.Valid("https://a.example", tok+"x") || p.Valid("https://a.example", "") {
		t.Fatal("Valid is wrong")
	}
	raw, _ := os.ReadFile(p.Path())
	if strings.Contains(string(raw), tok) || !strings.Contains(string(raw), hashToken(tok)) {
		t.Fatalf("the file must hold the hash, not the token:\n%s", raw)
	}
	st, _ := os.Stat(p.Path())
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	// A second store on the same file (posagent pair) sees it, and its
	// changes reach the first.
	q, err := OpenPairings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Valid("https://a.example", tok) {
		t.Fatal("second store does not see the token")
	}
	tok2, _ := q.AddToken("https://a.example")
	if !p.Valid("https://a.example", tok2) {
		t.Fatal("first store does not see the second's token")
	}
	if ok, err := q.Revoke("https://a.example"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if p.Valid("https://a.example", tok) || p.Valid("https://a.example", tok2) {
		t.Fatal("revoked tokens still valid")
	}
	if ok, _ := p.Revoke("https://a.example"); ok {
		t.Fatal("revoked twice")
	}
}

func TestPairingsClaim(t *testing.T) {
	p, _ := OpenPairings(t.TempDir())
	if _, ok, _ := p.Claim("https://a.example"); ok {
		t.Fatal("claim without approval")
	}
	if _, err := p.Approve("https://a.example", true); err != nil {
		t.Fatal(err)
	}
	tok, ok, err := p.Claim("https://a.example")
	if !ok || err != nil || !p.Valid("https://a.example", tok) {
		t.Fatal("claim failed", ok, err)
	}
	if _, ok, _ := p.Claim("https://a.example"); ok {
		t.Fatal("claimed twice")
	}
	if err := p.GrantClaim("https://a.example"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := p.Claim("https://a.example"); !ok {
		t.Fatal("granted claim not usable")
	}
}

func TestPairingsTokenCap(t *testing.T) {
	p, _ := OpenPairings(t.TempDir())
	first, _ := p.AddToken("https://a.example")
	for i := 0; i < maxTokensPerOrigin; i++ {
		if _, err := p.AddToken("https://a.example"); err != nil {
			t.Fatal(err)
		}
	}
	if p.Valid("https://a.example", first) {
		t.Fatal("the oldest token should have been dropped")
	}
	if l, _ := p.List(); len(l) != 1 || l[0].Tokens != maxTokensPerOrigin {
		t.Fatalf("list %+v", l)
	}
}

func TestPairingsDamagedFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, PairingsFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPairings(dir); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged store: %v", err)
	}
	// A readable file with loose permissions is tightened.
	if err := os.WriteFile(filepath.Join(dir, PairingsFile), []byte(`{"version":1,"origins":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPairings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p.Path()); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
}
