package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactingHandler(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelDebug)
	log = log.With("ctx", "pan 5454545454545454")
	log.Debug("read 4111111111111111", "err", errors.New("gateway echoed 371449635398431"),
		slog.Group("g", "track", "%B4111111111111111^A/B^2512?"), "n", 42, "ok", "fine")
	out := buf.String()
	for _, leak := range []string{"4111111111111111", "5454545454545454", "371449635398431", "%B4"} {
		if strings.Contains(out, leak) {
			t.Errorf("log leaks %q: %s", leak, out)
		}
	}
	for _, keep := range []string{`"n":42`, `"ok":"fine"`, "411111******1111", `"level":"DEBUG"`} {
		if !strings.Contains(out, keep) {
			t.Errorf("log lacks %q: %s", keep, out)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "": slog.LevelInfo, "WARN": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("bad level accepted")
	}
}

// Issue 16: card numbers split by spaces or dashes, glued to letters or in
// fullwidth digits are masked in the message, attributes, groups and
// errors like plain ones; a harmless "%B" is left alone.
func TestRedactingHandlerSeparatedGluedFullwidth(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelDebug)
	log.With("order_num", "INV6011"+"000990139424").Info("sale visa 4111-1111-1111-1111 / 5454 5454 5454 5454",
		"transaction_api_id", "t4111"+"111111111111",
		slog.Group("req", "description", "\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11"),
		"err", errors.New("gateway echoed 3714 496353 98431"), "note", "20%Bonus coffee")
	out := buf.String()
	for _, leak := range []string{"1111-1111", "5454 5454 5454", "000990139424", "4111111111111111", "\uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11", "496353"} {
		if strings.Contains(out, leak) {
			t.Errorf("log leaks %q: %s", leak, out)
		}
	}
	for _, keep := range []string{"4111-11**-****-1111", "INV601100******9424", "20%Bonus coffee"} {
		if !strings.Contains(out, keep) {
			t.Errorf("log lacks %q: %s", keep, out)
		}
	}
}
