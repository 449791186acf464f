// Package journal is the sale engine's durable record of every transaction
// it starts: a bbolt file written before a request leaves for the gateway and
// after every change of state, so that a crash, a kill or a power cut at any
// moment leaves enough to find out what happened (by the transaction's
// transaction_api_id) and to hand the outcome to the POS page that asked.
//
// The journal holds masked data and gateway ids only — never e_track_data,
// a PAN, a track or a KSN. Put refuses a record in which any field looks
// like a clear card number, as a last line of defence.
//
// A damaged file never stops a start: Open finds any damage before bbolt
// can panic on it, keeps the file aside and salvages every readable record
// into a new journal (salvage.go, docs/reliability.md); a record that does
// not decode is skipped by every read, logged once and counted.
//
// Retain moves old finished, acknowledged records to daily archive files
// (retention.go); ReadArchive and Between read them back, under the same
// card-data guard, for the export that reconciles a range older than the
// live journal keeps (archive_read.go).
package journal
