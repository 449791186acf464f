package emv

// Gateway entry modes (entry_mode_id) the readers' 9F39 maps to. The card
// package has the same letters as card.EntryMode; emv imports nothing
// internal, so they are plain strings here.
const (
	EntrySwiped    = "S"
	EntryChip      = "C"
	EntryProximity = "P"
	EntryFallback  = "F"
	EntryKeyed     = "K"
)

// EntryModeFrom9F39 maps POS Entry Mode (9F39, ISO 8583 first two digits) to
// the gateway's entry_mode_id:
//
//	05 contact chip                           C
//	07 contactless EMV, 91 contactless MSD    P
//	80 chip-to-magstripe fallback             F
//	90 full magstripe, 02 magstripe           S
//	01 manual (keyed on the reader)           K
//
// 01 maps to K because a reader only reports manual entry when the number
// was typed on its own keypad, which it encrypts: the gateway's K is exactly
// "encrypted keyed entry". Everything else (00 unknown, 10 credential on
// file, 95 chip with unreliable data, …) is not a reader entry mode the agent
// can vouch for: ok is false and the caller decides.
func EntryModeFrom9F39(b byte) (mode string, ok bool) {
	switch b {
	case 0x05:
		return EntryChip, true
	case 0x07, 0x91:
		return EntryProximity, true
	case 0x80:
		return EntryFallback, true
	case 0x90, 0x02:
		return EntrySwiped, true
	case 0x01:
		return EntryKeyed, true
	}
	return "", false
}
