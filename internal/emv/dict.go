package emv

// Value formats of EMV Book 3 §4.3.
const (
	FormatB   = "b"   // binary
	FormatN   = "n"   // BCD numeric, left-padded with 0
	FormatCN  = "cn"  // compressed numeric, right-padded with F
	FormatAN  = "an"  // alphanumeric
	FormatANS = "ans" // alphanumeric and special characters
	FormatTLV = "tlv" // constructed: nested objects
	FormatDOL = "dol" // data object list: tags and lengths, no values
)

// Info describes a tag.
type Info struct {
	Name   string
	Format string
	// Sensitive tags carry card data — clear, masked or encrypted track and
	// PAN data, names, expiry dates, PIN blocks — and everything nested in a
	// sensitive container does too. Debug output prints their lengths only.
	Sensitive bool
}

// Lookup returns what the dictionary knows about a tag.
func Lookup(t Tag) (Info, bool) {
	i, ok := dictionary[t]
	return i, ok
}

// Sensitive reports whether the tag's value must not be printed. Unknown
// tags count as sensitive: vendors put card data in private tags the
// dictionary does not list.
func Sensitive(t Tag) bool {
	i, ok := dictionary[t]
	return !ok || i.Sensitive
}

func info(name, format string) Info    { return Info{Name: name, Format: format} }
func secret(name, format string) Info  { return Info{Name: name, Format: format, Sensitive: true} }
func container(name string) Info       { return Info{Name: name, Format: FormatTLV} }
func secretContainer(name string) Info { return Info{Name: name, Format: FormatTLV, Sensitive: true} }

// dictionary: EMV Book 3 Annex A (card-formats.md §5.2), ID TECH (§3.4, NEO 2
// guide), MagTek ARQC containers and DFDFxx tags (§1.6, captures 9–11).
var dictionary = map[Tag]Info{
	// EMV, card and terminal.
	0x4F:   info("Application Identifier (card)", FormatB),
	0x50:   info("Application Label", FormatANS),
	0x56:   secret("Track 1 Data", FormatANS),
	0x57:   secret("Track 2 Equivalent Data", FormatB),
	0x58:   secret("Track 3 Equivalent Data", FormatB),
	0x5A:   secret("Application PAN", FormatCN),
	0x5F20: secret("Cardholder Name", FormatANS),
	0x5F21: secret("Track 1", FormatANS),
	0x5F22: secret("Track 2", FormatANS),
	0x5F23: secret("Track 3", FormatANS),
	0x5F24: secret("Application Expiration Date", FormatN),
	0x5F25: info("Application Effective Date", FormatN),
	0x5F28: info("Issuer Country Code", FormatN),
	0x5F2A: info("Transaction Currency Code", FormatN),
	0x5F2D: info("Language Preference", FormatAN),
	0x5F30: info("Service Code", FormatN),
	0x5F34: info("PAN Sequence Number", FormatN),
	0x5F36: info("Transaction Currency Exponent", FormatN),
	0x61:   container("Application Template"),
	0x6F:   container("File Control Information Template"),
	0x70:   container("Record Template"),
	0x77:   container("Response Message Template Format 2"),
	0x80:   info("Response Message Template Format 1", FormatB),
	0x82:   info("Application Interchange Profile", FormatB),
	0x84:   info("Dedicated File Name", FormatB),
	0x86:   info("Issuer Script Command", FormatB),
	0x87:   info("Application Priority Indicator", FormatB),
	0x88:   info("Short File Identifier", FormatB),
	0x8A:   info("Authorisation Response Code", FormatAN),
	0x8C:   info("CDOL1", FormatDOL),
	0x8D:   info("CDOL2", FormatDOL),
	0x8E:   info("CVM List", FormatB),
	0x8F:   info("CA Public Key Index", FormatB),
	0x95:   info("Terminal Verification Results", FormatB),
	0x99:   secret("Transaction PIN Data", FormatB),
	0x9A:   info("Transaction Date", FormatN),
	0x9B:   info("Transaction Status Information", FormatB),
	0x9C:   info("Transaction Type", FormatN),
	0xA5:   container("FCI Proprietary Template"),
	0xBF0C: container("FCI Issuer Discretionary Data"),
	0xE1:   container("Proprietary Container"),
	0x9F01: info("Acquirer Identifier", FormatN),
	0x9F02: info("Amount, Authorised", FormatN),
	0x9F03: info("Amount, Other", FormatN),
	0x9F06: info("Application Identifier (terminal)", FormatB),
	0x9F07: info("Application Usage Control", FormatB),
	0x9F08: info("Application Version Number (card)", FormatB),
	0x9F09: info("Application Version Number (terminal)", FormatB),
	0x9F0D: info("Issuer Action Code - Default", FormatB),
	0x9F0E: info("Issuer Action Code - Denial", FormatB),
	0x9F0F: info("Issuer Action Code - Online", FormatB),
	0x9F10: info("Issuer Application Data", FormatB),
	0x9F11: info("Issuer Code Table Index", FormatN),
	0x9F12: info("Application Preferred Name", FormatANS),
	0x9F15: info("Merchant Category Code", FormatN),
	0x9F16: info("Merchant Identifier", FormatANS),
	0x9F1A: info("Terminal Country Code", FormatN),
	0x9F1B: info("Terminal Floor Limit", FormatB),
	0x9F1C: info("Terminal Identification", FormatAN),
	0x9F1D: info("Terminal Risk Management Data", FormatB),
	0x9F1E: info("Interface Device Serial Number", FormatAN),
	0x9F1F: secret("Track 1 Discretionary Data", FormatANS),
	0x9F20: secret("Track 2 Discretionary Data", FormatCN),
	0x9F21: info("Transaction Time", FormatN),
	0x9F26: info("Application Cryptogram", FormatB),
	0x9F27: info("Cryptogram Information Data", FormatB),
	0x9F2A: info("Kernel Identifier", FormatB),
	0x9F33: info("Terminal Capabilities", FormatB),
	0x9F34: info("CVM Results", FormatB),
	0x9F35: info("Terminal Type", FormatN),
	0x9F36: info("Application Transaction Counter", FormatB),
	0x9F37: info("Unpredictable Number", FormatB),
	0x9F39: info("POS Entry Mode", FormatN),
	0x9F40: info("Additional Terminal Capabilities", FormatB),
	0x9F41: info("Transaction Sequence Counter", FormatN),
	0x9F42: info("Application Currency Code", FormatN),
	0x9F4E: info("Merchant Name and Location", FormatANS),
	0x9F53: info("Transaction Category Code", FormatAN),
	0x9F66: info("Terminal Transaction Qualifiers", FormatB),
	0x9F6B: secret("Track 2 Data (Mastercard)", FormatB),
	0x9F6D: info("Mag-stripe Application Version Number", FormatB),
	0x9F6E: info("Form Factor Indicator / Third Party Data", FormatB),
	0x9F7C: info("Customer Exclusive Data", FormatB),

	// EMV contactless kernel (Mastercard) outcome data.
	0xDF8115: info("Error Indication", FormatB),
	0xDF8116: info("User Interface Request Data", FormatB),
	0xDF8129: info("Outcome Parameter Set", FormatB),
	0xFF8105: container("Data Record (Mastercard)"),
	0xFF8106: container("Discretionary Data (Mastercard)"),

	// ID TECH.
	0xDF30:   info("Track Data Source (legacy)", FormatB),
	0xDFEE12: info("KSN", FormatB),
	0xFFEE12: info("KSN (legacy tag)", FormatB),
	0xDFEE23: secret("Enhanced MSR Frame", FormatB),
	0xDFEE25: info("ID TECH DFEE25 (unconfirmed meaning)", FormatB),
	0xDFEE26: info("Encryption and Data Capture Information", FormatB),
	0xDFEE2D: info("Group Number", FormatN),
	0xDFEE30: info("Track Data Source", FormatB),
	0xDFEE4C: info("Application Flow", FormatB),
	0xDFEE53: info("Exclude from Processing", FormatB),
	0xDFEE67: info("Feature Switch", FormatB),
	0xDFEF17: secret("Track 1 Data (ID TECH)", FormatB),
	0xDFEF18: secret("Track 2 Data (ID TECH)", FormatB),
	0xDFEF4B: info("Output Element Selection", FormatB),
	0xDFEF4C: info("Native Element Lengths", FormatB),
	0xDFEF4D: secret("Encrypted Elements", FormatB),
	0xDFEF57: info("Device Firmware Version", FormatANS),
	0xDFEF5B: secret("Masked PAN (ID TECH)", FormatB),
	0xDFEF5D: secret("Masked Track 2 (ID TECH)", FormatB),
	0xDFEF7B: info("Wallet Indicator", FormatB),
	0xFFEE01: container("ViVOpay Group"),
	0xFFEE1F: info("Error Detail", FormatB),
	// Legacy two-byte tags (NEO 2 guide §4.4 and the AID table).
	0xFFE1: info("Partial Selection Allowed (legacy)", FormatB),
	0xFFE2: info("Application Flow (legacy)", FormatB),
	0xFFE4: info("Group Number (legacy)", FormatN),
	0xFFE5: info("Maximum AID Length (legacy)", FormatB),
	0xFFE6: info("AID Disabled (legacy)", FormatB),
	0xFFE8: info("Exclude from Processing (legacy)", FormatB),
	0xFFE9: info("Transaction Type List (legacy)", FormatB),
	0xFFF0: info("Feature Switch (legacy)", FormatB),

	// MagTek ARQC / batch data.
	0xF4:       secretContainer("Encrypted MSR Data Container"),
	0xF5:       secretContainer("PIN Data Container"),
	0xF8:       container("Encryption Container"),
	0xF9:       container("MAC Structure and Generic Data"),
	0xFA:       container("Generic Data Container"),
	0xFC:       secretContainer("Decrypted Data Container"),
	0xFD:       container("Generic Data Container (legacy)"),
	0xFF42:     secretContainer("AES-DUKPT Encrypted Data Container"),
	0xDFDF25:   info("Device Serial Number", FormatANS),
	0xDFDF41:   info("PIN KSN", FormatB),
	0xDFDF42:   info("PIN Encryption Type", FormatB),
	0xDFDF4A:   secret("Track 2 Data (MagTek)", FormatANS),
	0xDFDF4D:   secret("Masked Track 2 / ICC Data", FormatANS),
	0xDFDF50:   info("KSN (pass-through)", FormatB),
	0xDFDF51:   info("Encryption Type (pass-through)", FormatB),
	0xDFDF52:   info("Card Type", FormatB),
	0xDFDF53:   info("Fallback Indicator", FormatB),
	0xDFDF54:   info("MAC KSN", FormatB),
	0xDFDF55:   info("MAC Encryption Type", FormatB),
	0xDFDF56:   info("Encrypted Data KSN", FormatB),
	0xDFDF57:   info("Encrypted Data Encryption Type", FormatB),
	0xDFDF58:   info("Encrypted Data Pad Count", FormatB),
	0xDFDF59:   secret("Encrypted Data", FormatB),
	0xDFDFDF37: secret("AES Encrypted Data", FormatB),
	0xDFDFDF38: info("AES KSN", FormatB),
	0xDFDFDF39: info("AES Encryption Type", FormatB),
}
