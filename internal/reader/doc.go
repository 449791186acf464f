// Package reader owns the card readers: the Reader each transport opens, the
// Events readers emit (card read, attached, detached, broken with a fix,
// prompts) and the Manager that enumerates devices, notices hot-plug by
// polling and diffing, reconnects after an unplug and lists devices it cannot
// open as broken with the reason and the fix.
//
// Transports live in subpackages: hid (the only importer of karalabe/hid),
// serial (the only importer of go.bug.st/serial), sim (a simulated reader
// that produces real encrypted reads with the public test key) and replay
// (record and play back any reader's raw traffic). Device protocols turn raw
// bytes into card reads through internal/decrypt, so a simulated, replayed
// and real reader share one parsing path.
package reader
