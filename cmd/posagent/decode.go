package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt"
)

func init() {
	register(command{name: "decode", summary: "parse one raw reader capture and print its gateway fields as JSON", run: runDecode})
}

// decodeOutput is the JSON contract of ARCHITECTURE §3.1. It holds only what
// the gateway receives anyway (ciphertext and masked tracks) and masked data.
type decodeOutput struct {
	Format         string        `json:"format"`
	EFormat        string        `json:"e_format"`
	ETrackData     string        `json:"e_track_data"`
	ESerialNumber  string        `json:"e_serial_number"`
	KSN            string        `json:"ksn"`
	MaskedPAN      string        `json:"masked_pan"`
	LastFour       string        `json:"last_four"`
	Brand          string        `json:"brand"`
	CardholderName string        `json:"cardholder_name"`
	EntryModeID    string        `json:"entry_mode_id"`
	DeviceSerial   string        `json:"device_serial"`
	Tracks         []trackOutput `json:"tracks"`
	Receipt        *card.Receipt `json:"receipt,omitempty"`
	Warnings       []string      `json:"warnings"`
}

type trackOutput struct {
	Number int `json:"track"`
	card.Track
}

type decodeError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func runDecode(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("decode", stderr)
	format := fs.String("format", "auto", "input format: "+strings.Join(decrypt.InputFormats, "|"))
	ksnHex := fs.String("ksn", "", "KSN (20 or 24 hex digits), required for ksn and ksnpin")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: posagent decode [--format F] [--ksn HEX] [INPUT|-]\n\nINPUT is a file holding the capture (text, or hex of binary); - or nothing reads stdin.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(code, msg string) int {
		_ = json.NewEncoder(stdout).Encode(decodeError{Error: code, Message: msg})
		return 1
	}
	if fs.NArg() > 1 {
		return fail("usage", "give at most one INPUT file (or - for stdin)")
	}
	var o decrypt.Options
	o.Format = *format
	if *ksnHex != "" {
		k, err := card.ParseKSN(*ksnHex)
		if err != nil {
			return fail(decrypt.CodeBadKSN, err.Error())
		}
		o.KSN = k
	}
	var src io.Reader = stdin
	if name := fs.Arg(0); name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fail("input", fmt.Sprintf("cannot open the input: %v", err))
		}
		defer f.Close()
		src = f
	}
	in, err := io.ReadAll(io.LimitReader(src, 1<<20))
	if err != nil {
		return fail("input", fmt.Sprintf("cannot read the input: %v", err))
	}
	r, err := decrypt.Decode(in, o)
	if err != nil {
		code := decrypt.CodeOf(err)
		if code == "" {
			code = decrypt.CodeMalformed
		}
		return fail(code, decrypt.MessageOf(err))
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(outputOf(r))
	return 0
}

func outputOf(r card.Read) decodeOutput {
	o := decodeOutput{
		Format:         r.Source,
		EFormat:        string(r.Envelope.Format),
		ETrackData:     r.Envelope.Data,
		ESerialNumber:  r.Envelope.KSN.String(),
		KSN:            r.Envelope.KSN.String(),
		MaskedPAN:      string(r.MaskedPAN),
		LastFour:       r.LastFour(),
		Brand:          string(r.Brand()),
		CardholderName: r.CardholderName,
		EntryModeID:    string(r.EntryMode),
		DeviceSerial:   r.Device.Serial,
		Warnings:       r.Warnings,
	}
	if o.Warnings == nil {
		o.Warnings = []string{}
	}
	for i, t := range r.Tracks {
		o.Tracks = append(o.Tracks, trackOutput{Number: i + 1, Track: t})
	}
	if !r.Receipt.Empty() {
		rc := r.Receipt
		o.Receipt = &rc
	}
	return o
}
