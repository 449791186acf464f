// Package sim is a simulated card reader that produces real encrypted reads.
//
// It plays one device, "sim:1", of a chosen model and builds each read in
// that model's native format — an ID TECH SecureMag enhanced binary frame, a
// MagTek Dynamag 856-byte V5 HID report, or an ID TECH VP3300 IDG response
// holding EMV TLVs — encrypted with the public ANSI X9.24 test BDK under an
// incrementing DUKPT KSN, exactly as a demo unit loaded with that key does.
// The bytes then go through internal/decrypt like a real reader's, so the
// rest of the agent cannot tell a simulated read from a real one, and the
// embedded sandbox gateway decrypts it with the same test key.
//
// The simulator is the only agent-side code that encrypts card data, which is
// why it may import internal/decrypt/dukpt (internal/archtest allows it). It
// holds no card numbers of its own: the caller (the websocket simulate
// request, tests) gives the PAN. Clear tracks live only in memory while a read
// is built; they are never logged, returned or put in an event.
//
// Faults let tests and demos show the agent's guards: a reader that is not
// encrypting (its read is refused with clear_track_data), a damaged read
// (refused with a retry prompt) and unplug/replug (Scan stops and starts
// listing the device, and the open reader's Run returns ErrDetached).
//
// A simulated VP3300 chip read waits for its host response like a real
// one: the card event carries a reader.Completion, nothing else starts
// until it is called or HostResponseTimeout passes, and
// SimCard.DeclinesAtCompletion makes the card decline an online approval.
package sim
