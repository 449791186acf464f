//go:build !headless

package ui

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
)

func TestSafeText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"4111111111111111", "411111******1111"},
		{"card 5413 3300 8902 0011 read", "card 541333******0011 read"},
		{"4111-1111-1111-1111=2512", "411111******1111=2512"},
		{"already 541333******0254", "already 541333******0254"},
		// Hex fields keep their digits: an AID is not a card number...
		{"AID A0000000041010", "AID A0000000041010"},
		// ...unless the glued run passes Luhn, as a real card number does.
		{"PAN4111111111111111", "PAN411111******1111"},
		{"amount 12.34 auth 123456", "amount 12.34 auth 123456"},
		{"123456789012", "123456789012"}, // 12 digits: too short for a card
	}
	for _, tc := range cases {
		if got := safeText(tc.in); got != tc.want {
			t.Errorf("safeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalizeAmount(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"12.34", "12.34", true},
		{"5", "5.00", true},
		{"$7.5", "7.50", true},
		{".99", "0.99", true},
		{"0012.30", "12.30", true},
		{"", "", false},
		{"0", "", false},
		{"0.00", "", false},
		{"12.345", "", false},
		{"12.3.4", "", false},
		{"-1", "", false},
		{"1e3", "", false},
		{".", "", false},
		{"12345678.00", "", false},
	}
	for _, tc := range cases {
		got, err := normalizeAmount(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("normalizeAmount(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestReceiptText(t *testing.T) {
	res := sale.Result{Outcome: sale.OutcomeApproved, Action: "sale", Amount: "12.34", Brand: "mc", MaskedPAN: "541333******0254",
		LastFour: "0254", EntryMode: "C", AuthCode: "A1B2C3", TransactionID: "11ee0a1b",
		Receipt: card.Receipt{AID: "A0000000041010", TVR: "0000008000", TSI: "E800", TC: "8A1B2C3D4E5F6071", APPLAB: "MASTERCARD", CVM: "1E0300"}}
	got := receiptText(res, "posagent")
	for _, want := range []string{"AMOUNT", "$12.34", "Mastercard ****0254", "CHIP", "A1B2C3", "AID", "A0000000041010", "TVR", "TSI", "TC", "APPROVED", "SIGNATURE"} {
		if !strings.Contains(got, want) {
			t.Errorf("receipt lacks %q:\n%s", want, got)
		}
	}
	// A receipt carries the last four only, not the first six.
	if strings.Contains(got, "541333") {
		t.Errorf("receipt shows the first six digits:\n%s", got)
	}
	for _, line := range strings.Split(strings.TrimRight(got, "\n"), "\n") {
		if n := len([]rune(line)); n > receiptWidth {
			t.Errorf("line wider than %d columns (%d): %q", receiptWidth, n, line)
		}
	}
}

func TestDisplayAvailable(t *testing.T) {
	// A live "X server" on TCP (DISPLAY host:N is port 6000+N) and a live
	// Wayland socket; a display variable naming nothing reachable is false.
	x, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	xDisplay := fmt.Sprintf("127.0.0.1:%d", x.Addr().(*net.TCPAddr).Port-6000)
	wl := filepath.Join(t.TempDir(), "wayland-0")
	w, err := net.Listen("unix", wl)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cases := []struct {
		display, wayland string
		want             bool
	}{{"", "", false}, {xDisplay, "", true}, {"", wl, true}, {":12345", "", false}, {"", "/nonexistent/wayland-0", false}}
	for _, tc := range cases {
		t.Setenv("DISPLAY", tc.display)
		t.Setenv("WAYLAND_DISPLAY", tc.wayland)
		if got := DisplayAvailable(); got != tc.want {
			t.Errorf("DISPLAY=%q WAYLAND_DISPLAY=%q: %v, want %v", tc.display, tc.wayland, got, tc.want)
		}
	}
}

// TestHeadlessLinksNoFyne proves the headless build of this package (and
// its fake) has the same API without any Fyne package: kiosks build it
// without X11 or OpenGL.
func TestHeadlessLinksNoFyne(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-tags", "headless", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "fyne.io/") {
			t.Errorf("headless build links %s", p)
		}
	}
	// And the non-headless build does link Fyne: the check can fail.
	out, err = exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "fyne.io/fyne/v2/widget") {
		t.Error("the window build does not list Fyne: the check above proves nothing")
	}
}

func TestXReachable(t *testing.T) {
	for _, d := range []string{"", "nonsense", ":12345", ":x", "localhost:12345.0"} {
		if xReachable(d) {
			t.Errorf("xReachable(%q) = true", d)
		}
	}
}

// TestReceiptOfAVoidedChipSale: a chip sale the card declined after the
// gateway's approval, voided by the agent, prints as declined with the
// agent's verbiage (engine: verbiageVoided) and no signature line.
func TestReceiptOfAVoidedChipSale(t *testing.T) {
	res := sale.Result{Outcome: sale.OutcomeDeclined, Action: "sale", Amount: "12.91", Brand: "visa", LastFour: "0119", EntryMode: "C",
		AuthCode: "A1B2C3", TransactionID: "11ee0a1c", StatusID: 201, Verbiage: "CARD DECLINED - CHARGE VOIDED",
		Error: "the card declined the completed transaction; the charge was voided (transaction 11ee0a1c)"}
	got := receiptText(res, "posagent")
	for _, want := range []string{"DECLINED", "CARD DECLINED - CHARGE VOIDED", "11ee0a1c"} {
		if !strings.Contains(got, want) {
			t.Errorf("receipt lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "SIGNATURE") {
		t.Errorf("a voided sale asks for a signature:\n%s", got)
	}
	for _, line := range strings.Split(strings.TrimRight(got, "\n"), "\n") {
		if n := len([]rune(line)); n > receiptWidth {
			t.Errorf("line wider than %d columns (%d): %q", receiptWidth, n, line)
		}
	}
}
