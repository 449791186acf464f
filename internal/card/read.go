package card

import (
	"log/slog"
)

// Format is the gateway's e_format: how e_track_data is laid out.
type Format string

// The e_format values of the Paya Connect transactions endpoint.
const (
	FormatIDTech    Format = "idtech"
	FormatMagneSafe Format = "magnesafe"
	FormatKSN       Format = "ksn"
	FormatKSNPIN    Format = "ksnpin"
)

// Valid reports whether f is a known e_format.
func (f Format) Valid() bool {
	switch f {
	case FormatIDTech, FormatMagneSafe, FormatKSN, FormatKSNPIN:
		return true
	}
	return false
}

// Envelope is the encrypted card data exactly as the gateway takes it:
// e_format, e_track_data and e_serial_number (the KSN). The agent forwards it
// unchanged and never decrypts it.
type Envelope struct {
	Format Format
	// Data is e_track_data: ciphertext in hex plus masked tracks. It is
	// never logged, journaled or shown.
	Data string
	KSN  KSN
}

// LogValue shows the format, the masked KSN and the data's length only.
func (e Envelope) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("e_format", string(e.Format)),
		slog.Any("ksn", e.KSN),
		slog.Int("data_len", len(e.Data)),
	)
}

// Track describes one card track of a read without its content.
type Track struct {
	Present         bool `json:"present"`
	Length          int  `json:"length"`           // clear length, sentinels and LRC included
	EncryptedLength int  `json:"encrypted_length"` // bytes of ciphertext
	HashPresent     bool `json:"hash_present"`
}

// Receipt holds the EMV receipt fields. Its layout matches emv.Receipt so
// that one converts to the other (card imports nothing internal).
type Receipt struct {
	TC     string `json:"TC,omitempty"`
	TVR    string `json:"TVR,omitempty"`
	AID    string `json:"AID,omitempty"`
	TSI    string `json:"TSI,omitempty"`
	ATC    string `json:"ATC,omitempty"`
	APPLAB string `json:"APPLAB,omitempty"`
	APPN   string `json:"APPN,omitempty"`
	CVM    string `json:"CVM,omitempty"`
	// CryptogramType names the 9F26 cryptogram: "TC", "ARQC" or "AAC".
	CryptogramType string `json:"cryptogram_type,omitempty"`
}

// Empty reports whether no receipt field is set.
func (r Receipt) Empty() bool { return r == Receipt{} }

// DeviceInfo names a reader.
type DeviceInfo struct {
	Vendor    string `json:"vendor,omitempty"`
	Model     string `json:"model,omitempty"`
	Serial    string `json:"serial,omitempty"`
	Transport string `json:"transport,omitempty"` // hid, serial, keyboard, sim, replay
	VID       uint16 `json:"vid,omitempty"`
	PID       uint16 `json:"pid,omitempty"`
	Path      string `json:"path,omitempty"`
}

// Read is one card read: the envelope to forward plus what is public about it.
type Read struct {
	Envelope Envelope
	// Source names the representation the reader delivered, e.g. "idtech"
	// (keyboard text), "idtech-binary", "magtek-hid", "magnesafe", "vivopay".
	Source         string
	MaskedPAN      MaskedPAN
	CardholderName string
	EntryMode      EntryMode
	Device         DeviceInfo
	Tracks         [3]Track
	Receipt        Receipt
	// Warnings are facts worth telling a person, never card data.
	Warnings []string
}

// LastFour is the last four PAN digits.
func (r Read) LastFour() string { return r.MaskedPAN.LastFour() }

// Brand is the card brand.
func (r Read) Brand() Brand { return r.MaskedPAN.Brand() }

// LogValue prints masked, public fields only: no track data, no name.
func (r Read) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("source", r.Source),
		slog.Any("envelope", r.Envelope),
		slog.Any("masked_pan", r.MaskedPAN),
		slog.String("brand", string(r.Brand())),
		slog.String("entry_mode", string(r.EntryMode)),
		slog.String("device_serial", r.Device.Serial),
	)
}
