package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/card"
)

// cardData is a card as one request presented it. pan is clear and lives only
// for the request: it is reduced to a cardRef before anything is stored,
// logged or answered.
type cardData struct {
	pan  string
	name string
	exp  string // YYMM from a track, or MMYY/MM/YY as keyed; informational
}

// cardRef is what the sandbox keeps of a card: never more than the first six
// and last four digits.
type cardRef struct {
	FirstSix string
	LastFour string
	Brand    card.Brand
	Name     string
	hash     string // SHA-256 of the PAN, hex: test-card lookups only
}

func (c cardData) ref() cardRef {
	r := cardRef{Brand: card.BrandOf(c.pan), Name: c.name, hash: panHash(c.pan)}
	if len(c.pan) >= 10 {
		r.FirstSix, r.LastFour = c.pan[:6], c.pan[len(c.pan)-4:]
	}
	return r
}

func panHash(pan string) string {
	h := sha256.Sum256([]byte(pan))
	return hex.EncodeToString(h[:])
}

// pyTestCard is one PaidYET sandbox test card's behaviour.
type pyTestCard struct {
	approve bool
	code    int    // decline_code, 0 for none
	message string // the result message
}

// pyTestCards are the PaidYET v3 test cards (seed 003, "Test Cards"),
// keyed by SHA-256 of the card number. Hashes rather than numbers because
// non-test source must not hold a clear Luhn-valid PAN (leak scanners would
// rightly flag it, and the rule is simpler without exceptions); the
// comments give BIN…last four, which is all a reader of this file needs.
// The test TestPaidYETCardTable proves each hash against the numbers of
// gateway-sandbox.md. Two declining cards share BIN and last four (400030…2222),
// which is why the key is not BIN + last four.
var pyTestCards = map[string]pyTestCard{
	"24a5ca2a0b7fcc63dbbeea25c336bfd80bd9b19fe8bd0a97df520c991d807c9a": {true, 0, "Approved"},                                 // 400010…2224
	"baf6c4d93dc070f4e0b8aed07d9df834ddaeff94eff4923deaa6572feb94de1b": {true, 0, "Approved"},                                 // 400010…2223
	"41426f61b944ee5405a722554c9bc523f6d17a34c271aa4652575c08c35f45e4": {true, 0, "Approved"},                                 // 400010…2222
	"fa212cc7fb1444595c6d78e1dca7bb7d1ae1fe7b075b18117e42601c264c738f": {true, 0, "Approved"},                                 // 400010…2221
	"e8e7ce48427a947e10e3fda9dbe917eb8d38b3834a1d862a576cc567c6b68c9a": {true, 0, "Approved"},                                 // 400010…2220 (not Luhn-valid)
	"d44eb332e14a275cf04fc7f2c2d9b1be4fe7548f82785a00caf545e44ba41eec": {false, 0, "Declined"},                                // 400030…2220
	"a8b83b698dcf6afcf2ad9aa0c37b9ecb0fc8abcca07dcc12c43aa138361297d0": {false, 4, "Pickup Card"},                             // 400030…2222 (0001)
	"b81e75a19aeda577048a12219b75f07a73a6fde09b6c5e035043dc2ab444dd78": {false, 5, "Do Not Honor"},                            // 400030…2228 (0211)
	"dac9a86a86ddb55c778b77872dc7a1048a240626b891cb0c7aedc99d936881ba": {false, 12, "Invalid transaction"},                    // 400030…2227 (0311)
	"d9ab6ac9cd59b28129f0f6465a5f516f259f804b3ed8bc12663a16b9f80827ec": {false, 15, "Invalid Issuer"},                         // 400030…2226 (0411)
	"df6cbd86a93d8ac7330d57cb665a2fded9f83e5d884351a0d036cb0427500065": {false, 25, "Unable to locate Record"},                // 400030…2225 (0511)
	"8c23b09deb39e69c0da81acb3df307693baf80402f382833fca4dc03a68a9b1f": {false, 51, "Insufficient Funds"},                     // 400030…2224 (0611)
	"bcbd1acbf5f4a50482d34e3d0950aaafbe64fa49c9c076847c46ae607809eb4b": {false, 55, "Invalid Pin"},                            // 400030…2223 (0711)
	"decca1a4b1dc50dc48e678e9390bd293c757c096b631a17d5164babe65e59e5a": {false, 57, "Transaction Not Permitted"},              // 400030…2222 (0811)
	"4bf0850e77376e28e0ffbe3ab9cf96c2a9e3b10dba6263c1e32bd55bef746957": {false, 62, "Restricted Card"},                        // 400030…2221 (0911)
	"4140f7fd7defa88d2a6617362d447f4e4b364ded6294565c9436b1af802bc69e": {false, 65, "Excess withdrawal count"},                // 400030…2228 (1011)
	"052ce689e4068b23d3f12859209917912107f0aea1093f55898cfea10fe4f558": {false, 75, "Allowable number of pin tries exceeded"}, // 400030…2227 (1111)
	"2155886c232e0a82a4b4af28864d3b4fbdd2573f1fe4a5a4f8c6a3d1d0678fa1": {false, 78, "No checking account"},                    // 400030…2226 (1211)
	"5695c94981a489eb584cf66a474851490f17e51de9dd5e376f83aa206c912d3b": {false, 97, "CVV failure"},                            // 400030…2225 (1311)
}

// validPAN is the shape check the gateways apply to a keyed number.
func validPAN(pan string) bool { return digitsOnly(pan) && card.Luhn(pan) }

// Reason codes the sandbox returns.
const (
	reasonApproved   = 1000
	reasonCompleted  = 1001
	reasonForced     = 1002
	reasonVoided     = 1200
	reasonPartial    = 1201
	reasonDeny       = 1500
	reasonAccountErr = 1608
	reasonEncryption = 1621
	reasonExpired    = 1622
)

// reasonText is the verbiage of each reason code: the processor's response
// text, which clients must not parse (status_id decides approval).
var reasonText = map[int]string{
	1000: "APPROVED", 1001: "AUTH COMPLETED", 1002: "FORCED", 1200: "VOIDED", 1201: "PARTIAL APPROVAL",
	1500: "DENY", 1510: "CALL", 1520: "PICKUP", 1530: "RETRY", 1540: "SETUP",
	1601: "GENERIC FAIL", 1602: "CALL", 1603: "NO REPLY", 1604: "PICK UP NO FRAUD", 1605: "PICK UP FRAUD",
	1606: "PICK UP LOST", 1607: "PICK UP STOLEN", 1608: "ACCOUNT ERROR", 1609: "ALREADY REVERSED",
	1610: "BAD PIN", 1611: "CASHBACK EXCEEDED", 1612: "CASHBACK NOT AVAILABLE", 1613: "CID ERROR",
	1614: "DATE ERROR", 1615: "DO NOT HONOR", 1616: "INSUFFICIENT FUNDS", 1617: "EXCEED WITHDRAWAL LIMIT",
	1618: "INVALID SERVICE CODE", 1619: "EXCEED ACTIVITY LIMIT", 1620: "VIOLATION", 1621: "ENCRYPTION ERROR",
	1622: "CARD EXPIRED", 1623: "RENTER", 1624: "SECURITY VIOLATION", 1625: "CARD NOT PERMITTED",
	1626: "TRANS NOT PERMITTED", 1627: "SYSTEM ERROR", 1628: "BAD MERCHANT ID", 1629: "DUPLICATE BATCH",
	1630: "REJECTED BATCH", 1631: "ACCOUNT CLOSED",
}

// outcome is the processor's answer to an authorization.
type outcome struct {
	approve bool
	reason  int
	partial int64         // approved amount in cents when partial, else 0
	delay   time.Duration // respond after this long
	timeout bool          // the delay reached the real API's 10 s timeout
}

// realTimeout is the real API's processing timeout: delays past it decline.
const realTimeout = 10 * time.Second

// amountOutcome applies the sandbox's amount table (credit card
// authorizations) to an amount in cents.
func amountOutcome(cents int64, allowPartial bool) outcome {
	switch {
	case cents == 201 && allowPartial:
		return outcome{approve: true, reason: reasonPartial, partial: 100}
	case cents >= 500 && cents <= 540 && cents%10 == 0:
		return outcome{reason: 1500 + int(cents-500)}
	case cents >= 601 && cents <= 631:
		return outcome{reason: 1600 + int(cents-600)}
	case cents >= 800 && cents <= 809:
		return outcome{reason: reasonDeny, delay: time.Duration(cents-800) * time.Second}
	case cents >= 810 && cents <= 899:
		return outcome{reason: reasonDeny, delay: realTimeout, timeout: true}
	}
	return outcome{approve: true, reason: reasonApproved}
}

// AVS test addresses of the Paya Connect sandbox.
const (
	avsGoodStreet    = "5800 NW 39th AVE"
	avsGoodZip       = "32606"
	avsDeclineStreet = "2831 NW 41st St STE J"
	avsDeclineZip    = "32615"
)

// avsResult is the basic and enhanced AVS answer and whether the address
// declines the transaction.
type avsResult struct {
	avs, enhanced *string
	decline       bool
}

func normAddr(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// checkAVS compares a billing street and zip with the sandbox's test address.
// Nothing sent: not requested (avs null, enhanced V), unless requireResult,
// for avsonly, where not sending AVS "declines the AVS".
func checkAVS(street, zip string, requireResult bool) avsResult {
	street, zip = normAddr(street), strings.TrimSpace(zip)
	if street == "" && zip == "" {
		if requireResult {
			return avsResult{avs: ptr("BAD"), enhanced: ptr("N")}
		}
		return avsResult{enhanced: ptr("V")}
	}
	if street == normAddr(avsDeclineStreet) && zip == avsDeclineZip {
		return avsResult{avs: ptr("BAD"), enhanced: ptr("N"), decline: true}
	}
	sOK := street == "" || street == normAddr(avsGoodStreet)
	zOK := zip == "" || zip == avsGoodZip
	switch {
	case sOK && zOK:
		return avsResult{avs: ptr("GOOD"), enhanced: ptr("Y")}
	case sOK:
		return avsResult{avs: ptr("ZIP"), enhanced: ptr("A")}
	case zOK:
		return avsResult{avs: ptr("STREET"), enhanced: ptr("Z")}
	}
	return avsResult{avs: ptr("BAD"), enhanced: ptr("N")}
}

// cvvResult maps a CVV test value to cvv_response: M match, N no match, P
// not processed, S unreadable, U issuer not participating, X no response.
// Amex uses four-digit values. Not sent: blank.
func cvvResult(cvv string, brand card.Brand) string {
	cvv = strings.TrimSpace(cvv)
	if cvv == "" {
		return ""
	}
	table := map[string]string{"999": "M", "123": "N", "124": "P", "125": "S", "126": "U", "127": "X"}
	if brand == card.BrandAmex {
		table = map[string]string{"1234": "M", "9999": "N", "9998": "P", "9997": "S", "9996": "U", "9995": "X"}
	}
	if r, ok := table[cvv]; ok {
		return r
	}
	return "N"
}

// publishedTestCards are the SHA-256 of the cards in the only encrypted
// reads an integrator has before a reader is injected with their own keys:
// the seed's "Encryption Examples" (542837…0254, a Mastercard gift card
// whose tracks say it expired 09/21) and the vendors' public captures in
// shared/reference/captures (ID TECH's VP3300 contact 476173…0119 exp
// 12/22, VP3350 swipe 476173…0043 exp 12/24, NEO 2 tap 541333…1513 exp
// 12/20). All were past their expiry when published; the seed presents its
// samples as what the endpoint accepts, so the sandbox keeps approving
// these reads by card number and amount. Every other read card is checked
// for expiry (docs/sandbox.md, "Expired cards").
var publishedTestCards = map[string]bool{
	"4d468af44846ff8810b6f61300fa76a24a34a2606c8960dc0218f2a8a6bb240c": true, // seed samples
	"b8abf4ef1d3aad7fb9b46b042f6052fd3c299509da69188dde5ad35bb233bd3f": true, // VP3300 contact capture
	"3e52e56c52db0b78f0536bb138e8dc3eabd82ec3a74c30fedc0df00ff901ee21": true, // VP3350 swipe capture
	"f5745821052f6c68d3bd33f8a66c4611c7aa45036941bd58ba94fb78d3c79328": true, // NEO 2 tap capture
}

// expired reports whether the card of cd is past its expiry month: keyed
// cards carry MMYY (exp_date), track and chip reads YYMM. A malformed or
// missing expiry is not "expired": the keyed one is a validation error, and
// a track without one cannot be judged.
func (cd cardData) expired(keyed bool, now time.Time) bool {
	e := cd.exp
	if len(e) != 4 || !digitsOnly(e) || !keyed && publishedTestCards[panHash(cd.pan)] {
		return false
	}
	mm, yy := e[:2], e[2:]
	if !keyed {
		yy, mm = e[:2], e[2:]
	}
	m := int(mm[0]-'0')*10 + int(mm[1]-'0')
	y := 2000 + int(yy[0]-'0')*10 + int(yy[1]-'0')
	if m < 1 || m > 12 {
		return false
	}
	// A card is good through the last day of its expiry month.
	end := time.Date(y, time.Month(m)+1, 1, 0, 0, 0, 0, time.UTC)
	return !now.UTC().Before(end)
}

func validMMYY(s string) bool {
	if len(s) != 4 || !digitsOnly(s) {
		return false
	}
	m := int(s[0]-'0')*10 + int(s[1]-'0')
	return m >= 1 && m <= 12
}
