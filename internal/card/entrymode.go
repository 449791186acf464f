package card

// EntryMode is the gateway's entry_mode_id: how the account number was acquired.
type EntryMode string

// Entry modes of the Paya Connect transactions endpoint.
const (
	EntrySwiped    EntryMode = "S"
	EntryChip      EntryMode = "C"
	EntryProximity EntryMode = "P"
	EntryFallback  EntryMode = "F"
	EntryKeyed     EntryMode = "K"
)

// Valid reports whether m is one of the entry modes the gateway accepts from a reader.
func (m EntryMode) Valid() bool {
	switch m {
	case EntrySwiped, EntryChip, EntryProximity, EntryFallback, EntryKeyed:
		return true
	}
	return false
}

// Title is the gateway's human title of the entry mode.
func (m EntryMode) Title() string {
	switch m {
	case EntrySwiped:
		return "Swiped"
	case EntryChip:
		return "Chip"
	case EntryProximity:
		return "Contactless"
	case EntryFallback:
		return "Fallback swipe"
	case EntryKeyed:
		return "Keyed"
	}
	return "Unknown"
}
