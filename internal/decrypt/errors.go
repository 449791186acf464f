package decrypt

import (
	"errors"
	"fmt"
)

// Error codes: stable strings that `posagent decode`, the engine and the
// websocket bridge show to people and programs.
const (
	CodeClearTrackData = "clear_track_data" // the reader is not encrypting
	CodeUnknownFormat  = "unknown_format"   // no parser recognizes the input
	CodeMalformed      = "malformed"        // structure or field content broken
	CodeBadLength      = "bad_length"       // a length field disagrees with the data
	CodeBadLRC         = "bad_lrc"          // ID TECH LRC mismatch
	CodeBadChecksum    = "bad_checksum"     // ID TECH checksum mismatch
	CodeBadCRC         = "bad_crc"          // IDG CRC mismatch
	CodeMissingKSN     = "missing_ksn"      // ksn/ksnpin need --ksn; or the reader has no key
	CodeBadKSN         = "bad_ksn"          // KSN not 10/12 bytes of hex
	CodeNoCardData     = "no_card_data"     // a valid message that holds no card read
	CodeReaderStatus   = "reader_status"    // an IDG response with an error status
	CodeTooLarge       = "too_large"        // input larger than any reader sends
)

// Error is a parse failure with a stable code and a message a person can act
// on. Messages never contain card data.
type Error struct {
	Code string
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Msg + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// ErrClearTrackData is matched (errors.Is) by every clear_track_data error.
var ErrClearTrackData = errors.New("reader is not encrypting")

// Is makes errors.Is(err, ErrClearTrackData) work for clear-data errors.
func (e *Error) Is(target error) bool {
	return target == ErrClearTrackData && e.Code == CodeClearTrackData
}

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func clearData(what string) *Error {
	return errorf(CodeClearTrackData,
		"reader is not encrypting: %s; turn encryption on (load a key, set the security level) before taking cards", what)
}

// CodeOf returns the code of a decrypt error, or "" for other errors.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// MessageOf returns the person-facing message of a decrypt error (without
// its code), or err.Error() for other errors.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Err != nil {
			return e.Msg + ": " + e.Err.Error()
		}
		return e.Msg
	}
	return err.Error()
}
