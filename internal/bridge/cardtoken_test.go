package bridge

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// A sale's card_token and receipt fields are decoded, and never logged.
func TestSaleCardTokenDecodedNotLogged(t *testing.T) {
	r, perr := DecodeRequest([]byte(`{"type":"sale","id":"s1","amount":"1.00","card_token":"tok_secret_123","receipt_email":"ann@example.com","receipt_phone":"+15555555555"}`))
	if perr != nil {
		t.Fatal(perr)
	}
	if r.CardToken != "tok_secret_123" || r.ReceiptEmail != "ann@example.com" || r.ReceiptPhone != "+15555555555" {
		t.Fatalf("decoded %+v", r)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("request", "req", r)
	for _, secret := range []string{"tok_secret_123", "ann@example.com", "5555555555"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log holds %q: %s", secret, buf.String())
		}
	}
}
