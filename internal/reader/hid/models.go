package hid

import "github.com/posagent/posagent/internal/reader/proto"

// Model is a known reader product.
type Model struct {
	VID, PID uint16
	Vendor   string
	Name     string
	// Protocol is the internal/reader/proto protocol; "" for a
	// keyboard-emulation product, which cannot be read as HID.
	Protocol    string
	ReportSize  int // vivopay-hid output report size
	FeatureSize int // magtek-hid feature report size
}

// Vendor IDs.
const (
	VIDMagTek = 0x0801
	VIDIDTech = 0x0ACD
)

// KeyboardAdvice is the fix for a reader in keyboard-emulation mode.
const KeyboardAdvice = "this reader is in keyboard-emulation mode: switch it to HID or use the keyboard capture page"

// Models are the readers the driver knows. MagTek PIDs: card-formats.md
// §1.1 (jscherff/gomagtek). ID TECH PIDs: the HID/KB pairs ID TECH's USB
// descriptors use (as listed in web-projects/VIPA_SIMULATOR's device
// discovery) and the VP3300 (card-formats.md §3.1). The MagTek feature report
// is 24 bytes on SureSwipe and 60 on Dynamag (§1.1).
var Models = []Model{
	{VID: VIDMagTek, PID: 0x0001, Vendor: "MagTek", Name: "MagTek SureSwipe/Dynamag (keyboard emulation)"},
	{VID: VIDMagTek, PID: 0x0002, Vendor: "MagTek", Name: "MagTek SureSwipe", Protocol: proto.MagTekHID, FeatureSize: 24},
	{VID: VIDMagTek, PID: 0x0011, Vendor: "MagTek", Name: "MagTek Dynamag", Protocol: proto.MagTekHID, FeatureSize: 60},
	{VID: VIDMagTek, PID: 0x0013, Vendor: "MagTek", Name: "MagTek Dynamag insert", Protocol: proto.MagTekHID, FeatureSize: 60},
	{VID: VIDMagTek, PID: 0x0014, Vendor: "MagTek", Name: "MagTek wireless reader", Protocol: proto.MagTekHID, FeatureSize: 60},

	{VID: VIDIDTech, PID: 0x2010, Vendor: "ID TECH", Name: "ID TECH SecureMag", Protocol: proto.IDTechHID},
	{VID: VIDIDTech, PID: 0x2030, Vendor: "ID TECH", Name: "ID TECH SecureMag (keyboard emulation)"},
	{VID: VIDIDTech, PID: 0x2610, Vendor: "ID TECH", Name: "ID TECH SecureKey", Protocol: proto.IDTechHID},
	{VID: VIDIDTech, PID: 0x2620, Vendor: "ID TECH", Name: "ID TECH SecureKey (keyboard emulation)"},
	{VID: VIDIDTech, PID: 0x2810, Vendor: "ID TECH", Name: "ID TECH SecuRED", Protocol: proto.IDTechHID},
	{VID: VIDIDTech, PID: 0x2820, Vendor: "ID TECH", Name: "ID TECH SecuRED (keyboard emulation)"},
	{VID: VIDIDTech, PID: 0x3820, Vendor: "ID TECH", Name: "ID TECH Augusta (MSR)", Protocol: proto.IDTechHID},
	{VID: VIDIDTech, PID: 0x3810, Vendor: "ID TECH", Name: "ID TECH Augusta (keyboard emulation)"},
	{VID: VIDIDTech, PID: 0x3920, Vendor: "ID TECH", Name: "ID TECH Augusta S (MSR)", Protocol: proto.IDTechHID},
	{VID: VIDIDTech, PID: 0x3910, Vendor: "ID TECH", Name: "ID TECH Augusta S (keyboard emulation)"},
	{VID: VIDIDTech, PID: 0x4520, Vendor: "ID TECH", Name: "ID TECH SREDKey 2", Protocol: proto.IDTechHID},
	{VID: VIDIDTech, PID: 0x4521, Vendor: "ID TECH", Name: "ID TECH SREDKey 2 (keyboard emulation)"},
	{VID: VIDIDTech, PID: 0x3530, Vendor: "ID TECH", Name: "ID TECH VP3300", Protocol: proto.VivopayHID, ReportSize: 64},
}

// Lookup finds a model by VID and PID.
func Lookup(vid, pid uint16) (Model, bool) {
	for _, m := range Models {
		if m.VID == vid && m.PID == pid {
			return m, true
		}
	}
	return Model{}, false
}

// vendorName names the card-reader vendors the driver looks at.
func vendorName(vid uint16) (string, bool) {
	switch vid {
	case VIDMagTek:
		return "MagTek", true
	case VIDIDTech:
		return "ID TECH", true
	}
	return "", false
}
