package packagetest

import (
	"bytes"
	"crypto/sha256"
	"debug/pe"
	"encoding/binary"
	"encoding/hex"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

const exeName = "posagent-windows-amd64.exe"

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// icoImages parses an ICO file into its images, with the size each entry
// declares.
func icoImages(t *testing.T, ico []byte) (sizes []int, images [][]byte) {
	t.Helper()
	le := binary.LittleEndian
	if len(ico) < 6 || le.Uint16(ico[0:]) != 0 || le.Uint16(ico[2:]) != 1 {
		t.Fatal("not an ICO file (bad ICONDIR)")
	}
	n := int(le.Uint16(ico[4:]))
	for i := range n {
		e := ico[6+16*i:]
		size := int(e[0])
		if size == 0 {
			size = 256
		}
		length, offset := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		if offset+length > len(ico) {
			t.Fatalf("entry %d runs past the end of the file", i)
		}
		sizes = append(sizes, size)
		images = append(images, ico[offset:offset+length])
	}
	return sizes, images
}

// TestIcon: the committed ICO (go generate ./packaging) holds square PNG
// images of the sizes Windows asks for, the 256-pixel one being
// assets/icon.png itself.
func TestIcon(t *testing.T) {
	ico := []byte(read(t, "packaging/windows/posagent.ico"))
	sizes, images := icoImages(t, ico)
	for _, want := range []int{16, 32, 48, 256} {
		if !slices.Contains(sizes, want) {
			t.Errorf("no %dx%d image (sizes %v)", want, want, sizes)
		}
	}
	for i, img := range images {
		cfg, err := png.DecodeConfig(bytes.NewReader(img))
		if err != nil {
			t.Errorf("image %d: %v", i, err)
			continue
		}
		if cfg.Width != sizes[i] || cfg.Height != sizes[i] {
			t.Errorf("image %d is %dx%d, its entry says %d", i, cfg.Width, cfg.Height, sizes[i])
		}
		if sizes[i] == 256 && !bytes.Equal(img, []byte(read(t, "assets/icon.png"))) {
			t.Error("the 256x256 image is not assets/icon.png: run go generate ./packaging")
		}
	}
}

// utf16z is s in UTF-16LE, as version resources store strings.
func utf16z(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// versionString returns the value of key in a VS_VERSIONINFO StringTable:
// the key in UTF-16, its terminator and padding, then the value.
func versionString(rsrc []byte, key string) string {
	i := bytes.Index(rsrc, append(utf16z(key), 0, 0))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(rsrc[i+2*len(key)+2:], "\x00")
	var u []uint16
	for len(rest) >= 2 {
		c := binary.LittleEndian.Uint16(rest)
		if c == 0 {
			break
		}
		u = append(u, c)
		rest = rest[2:]
	}
	return string(utf16.Decode(u))
}

func exePath(t *testing.T) string {
	t.Helper()
	p := filepath.Join(dist(t), exeName)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("missing artifact: %v", err)
	}
	return p
}

// TestWindowsExe: a PE32+ console executable for x86-64 whose resources hold
// the version, the manifest and the icon.
func TestWindowsExe(t *testing.T) {
	path := exePath(t)
	f, err := pe.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
		t.Errorf("machine %#x, want AMD64", f.Machine)
	}
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if !ok {
		t.Fatalf("optional header %T: not PE32+", f.OptionalHeader)
	}
	// Console, not GUI: the SCM and a prompt run the same exe (README).
	if oh.Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_CUI {
		t.Errorf("subsystem %d, want the console (%d)", oh.Subsystem, pe.IMAGE_SUBSYSTEM_WINDOWS_CUI)
	}
	sec := f.Section(".rsrc")
	if sec == nil {
		t.Fatal("no .rsrc section: the resources were not linked")
	}
	rsrc, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	version := env(t, "POSAGENT_VERSION")
	for key, want := range map[string]string{
		"ProductVersion": version, "FileVersion": version, "ProductName": "posagent",
		"OriginalFilename": "posagent.exe", "CompanyName": "posagent",
		"FileDescription": "posagent card-reader bridge",
	} {
		if got := versionString(rsrc, key); got != want {
			t.Errorf("version resource %s = %q, want %q", key, got, want)
		}
	}
	// VS_FIXEDFILEINFO: the numeric FILEVERSION X.Y.Z.0 of the Debian version.
	i := bytes.Index(rsrc, []byte{0xbd, 0x04, 0xef, 0xfe})
	if i < 0 || i+16 > len(rsrc) {
		t.Fatal("no VS_FIXEDFILEINFO")
	}
	ms, ls := binary.LittleEndian.Uint32(rsrc[i+8:]), binary.LittleEndian.Uint32(rsrc[i+12:])
	wantNum := [4]uint32{}
	if m := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(env(t, "POSAGENT_DEB_VERSION")); m != nil {
		for j := range 3 {
			n, _ := strconv.Atoi(m[j+1])
			wantNum[j] = uint32(n)
		}
	}
	if got := [4]uint32{ms >> 16, ms & 0xffff, ls >> 16, ls & 0xffff}; got != wantNum {
		t.Errorf("FILEVERSION %v, want %v", got, wantNum)
	}
	for _, s := range []string{`level="asInvoker"`, "PerMonitorV2", "Microsoft.Windows.Common-Controls"} {
		if !bytes.Contains(rsrc, []byte(s)) {
			t.Errorf("the manifest lacks %s", s)
		}
	}
	sizes, _ := icoImages(t, []byte(read(t, "packaging/windows/posagent.ico")))
	if n := bytes.Count(rsrc, pngSignature); n != len(sizes) {
		t.Errorf("%d icon images in the resources, want the ICO's %d", n, len(sizes))
	}

	// Unsigned unless a certificate was given to make package.
	signed := oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_SECURITY].Size != 0
	if want := os.Getenv("SIGN_PKCS12") != ""; signed != want {
		t.Errorf("signed = %v, but SIGN_PKCS12 is %q", signed, os.Getenv("SIGN_PKCS12"))
	}

	out := run(t, need(t, "file", "file"), "-b", path)
	for _, s := range []string{"PE32+", "x86-64", "console"} {
		if !strings.Contains(out, s) {
			t.Errorf("file(1) says %q: no %s", strings.TrimSpace(out), s)
		}
	}
}

// TestWindowsSigning signs a copy of the exe with sign.sh and a throwaway
// self-signed code-signing certificate, and checks that osslsigncode
// verifies it; without a certificate sign.sh leaves the exe alone.
func TestWindowsSigning(t *testing.T) {
	exe := exePath(t)
	openssl := need(t, "openssl", "openssl")
	osslsigncode := need(t, "osslsigncode", "osslsigncode")
	dir := t.TempDir()
	key, cert, p12 := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "cert.p12")
	run(t, openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
		"-subj", "/CN=posagent test signing", "-addext", "extendedKeyUsage=codeSigning", "-addext", "keyUsage=digitalSignature")
	run(t, openssl, "pkcs12", "-export", "-inkey", key, "-in", cert, "-out", p12, "-passout", "pass:throwaway")

	orig, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	signSh := src("packaging/windows/sign.sh")
	cases := []struct {
		name    string
		env     []string
		ok      bool
		signed  bool
		message string
	}{
		{"no certificate", nil, true, false, "left unsigned"},
		{"self-signed", []string{"SIGN_PKCS12=" + p12, "SIGN_PASSWORD=throwaway", "SIGN_CAFILE=" + cert}, true, true, "signed and verified"},
		{"wrong password", []string{"SIGN_PKCS12=" + p12, "SIGN_PASSWORD=wrong", "SIGN_CAFILE=" + cert}, false, false, "sign failed"},
		{"untrusted chain", []string{"SIGN_PKCS12=" + p12, "SIGN_PASSWORD=throwaway"}, false, false, "does not verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			copyExe := filepath.Join(t.TempDir(), exeName)
			if err := os.WriteFile(copyExe, orig, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(signSh, copyExe)
			cmd.Env = append(withoutSignEnv(os.Environ()), c.env...)
			out, err := cmd.CombinedOutput()
			if (err == nil) != c.ok || !strings.Contains(string(out), c.message) {
				t.Fatalf("sign.sh: err %v, output:\n%s\nwant ok=%v and %q", err, out, c.ok, c.message)
			}
			after, err := os.ReadFile(copyExe)
			if err != nil {
				t.Fatal(err)
			}
			if changed := sha256.Sum256(after) != sha256.Sum256(orig); changed != c.signed {
				t.Fatalf("exe changed = %v, want %v", changed, c.signed)
			}
			if !c.signed {
				return
			}
			v := run(t, osslsigncode, "verify", "-CAfile", cert, "-in", copyExe)
			for _, s := range []string{"Signature verification: ok", "CN=posagent test signing", "Message digest algorithm  : SHA256"} {
				if !strings.Contains(v, s) {
					t.Errorf("osslsigncode verify lacks %q:\n%s", s, v)
				}
			}
			if _, err := pe.Open(copyExe); err != nil {
				t.Errorf("the signed exe is no longer a PE file: %v", err)
			}
		})
	}
}

func withoutSignEnv(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "SIGN_") {
			out = append(out, e)
		}
	}
	return out
}

// TestSHA256SUMS: every artifact is listed with its hash, and the required
// ones are there.
func TestSHA256SUMS(t *testing.T) {
	d := dist(t)
	sums, err := os.ReadFile(filepath.Join(d, "SHA256SUMS"))
	if err != nil {
		t.Fatalf("missing artifact: %v", err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not `HASH  NAME`", line)
		}
		b, err := os.ReadFile(filepath.Join(d, name))
		if err != nil {
			t.Errorf("listed but missing: %v", err)
			continue
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: sha256 %x, SHA256SUMS says %s", name, h, sum)
		}
		listed[name] = true
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" && !listed[e.Name()] {
			t.Errorf("%s is in %s but not in SHA256SUMS", e.Name(), d)
		}
	}
	for _, name := range []string{"posagent_" + env(t, "POSAGENT_DEB_VERSION") + "_amd64.deb", exeName} {
		if !listed[name] {
			t.Errorf("SHA256SUMS lacks %s", name)
		}
	}
}
