package decrypt

import (
	"bytes"

	"github.com/posagent/posagent/internal/card"
)

// parseKSNForm parses the gateway's ksn / ksnpin layout:
// "masked tracks|enc T1 hex|enc T2 hex". The KSN does not travel in the
// data: the caller supplies it, and it becomes e_serial_number. ksn
// ciphertext uses the DUKPT data key, ksnpin the PIN variant — the layouts
// are identical, so the format cannot be detected and must be named.
func parseKSNForm(in []byte, format card.Format, ksn card.KSN) (card.Read, error) {
	var r card.Read
	in = bytes.TrimRight(in, "\r\n")
	if len(in) > maxFrame {
		return r, errorf(CodeTooLarge, "%s data of %d characters is longer than any reader sends", format, len(in))
	}
	if len(ksn) == 0 {
		return r, errorf(CodeMissingKSN, "the %s form carries no KSN: pass it with --ksn (20 hex digits)", format)
	}
	if !ksn.Valid() {
		return r, errorf(CodeBadKSN, "the KSN must be 10 or 12 bytes and not zero")
	}
	i := bytes.IndexByte(in, '|')
	if i < 0 {
		if t, ok := splitTracks(in); ok && panOf(t) != nil {
			return r, clearData("plain track data without encrypted fields")
		}
		return r, errorf(CodeMalformed, "%s data must be masked tracks|enc T1 hex|enc T2 hex", format)
	}
	j := bytes.IndexByte(in[i+1:], '|')
	if j < 0 {
		return r, errorf(CodeMalformed, "%s data must have three '|' separated fields", format)
	}
	j += i + 1
	masked, e1, e2 := in[:i], in[i+1:j], in[j+1:]
	if bytes.IndexByte(e2, '|') >= 0 {
		return r, errorf(CodeMalformed, "%s data has more than three '|' separated fields", format)
	}
	t, ok := splitTracks(masked)
	if !ok || !printable(masked) {
		return r, errorf(CodeMalformed, "%s masked tracks are not %%…?;…? track strings", format)
	}
	enc := [2][]byte{e1, e2}
	for k := 0; k < 2; k++ {
		e := enc[k]
		if len(e) == 0 {
			if t[k] != nil {
				return r, clearData("track " + string(rune('1'+k)) + " has no encrypted data")
			}
			continue
		}
		if !isHex(e) {
			return r, errorf(CodeMalformed, "%s encrypted track %d is not hex", format, k+1)
		}
		if len(e)%16 != 0 {
			return r, errorf(CodeBadLength, "%s encrypted track %d is %d hex digits, not whole 8-byte blocks", format, k+1, len(e))
		}
		r.Tracks[k] = card.Track{Present: true, Length: len(t[k]), EncryptedLength: len(e) / 2}
	}
	if len(e1) == 0 && len(e2) == 0 {
		return r, clearData("no encrypted track")
	}
	r.Envelope = card.Envelope{Format: format, Data: string(in), KSN: append(card.KSN(nil), ksn...)}
	r.Source = string(format)
	r.EntryMode = card.EntrySwiped
	fillPublic(&r, t, nil)
	return r, nil
}
