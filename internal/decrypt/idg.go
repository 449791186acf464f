package decrypt

import (
	"bytes"
	"encoding/binary"
)

// IDG ("ViVOtech2") protocol 2 framing used by ID TECH ViVOpay/NEO readers
// (VP3300 family): header, command, subcommand (commands) or status
// (responses), big-endian length, data, CRC-16/CCITT-FALSE (§3.1).
var idgHeader = []byte("ViVOtech2\x00")

const idgOverhead = 10 + 1 + 1 + 2 + 2

// IDGFrame is one IDG frame. For a command Sub is the subcommand; for a
// response it is the status code (0 = OK).
type IDGFrame struct {
	Cmd  byte
	Sub  byte
	Data []byte
}

// CRC16CCITT is CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection,
// no final XOR.
func CRC16CCITT(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// AppendIDG appends a command frame. The CRC goes LSB first, as ID TECH's
// own command examples send it.
func AppendIDG(dst []byte, cmd, sub byte, data []byte) []byte {
	start := len(dst)
	dst = append(dst, idgHeader...)
	dst = append(dst, cmd, sub, byte(len(data)>>8), byte(len(data)))
	dst = append(dst, data...)
	crc := CRC16CCITT(dst[start:])
	return append(dst, byte(crc), byte(crc>>8))
}

// ParseIDG reads one frame from the start of b and returns it with the
// number of bytes it used. The CRC is accepted in either byte order, because
// ID TECH's documents and firmware disagree (§3.3). Data aliases b.
func ParseIDG(b []byte) (IDGFrame, int, error) {
	var f IDGFrame
	if len(b) < idgOverhead {
		if bytes.HasPrefix(idgHeader, b) || bytes.HasPrefix(b, idgHeader) {
			return f, 0, errorf(CodeBadLength, "IDG frame cut short: %d bytes", len(b))
		}
		return f, 0, errorf(CodeUnknownFormat, "not an IDG frame: it must start with \"ViVOtech2\\0\"")
	}
	if !bytes.Equal(b[:10], idgHeader) {
		return f, 0, errorf(CodeUnknownFormat, "not an IDG frame: it must start with \"ViVOtech2\\0\"")
	}
	n := int(binary.BigEndian.Uint16(b[12:14]))
	end := 14 + n
	if end+2 > len(b) {
		return f, 0, errorf(CodeBadLength, "IDG frame says %d data bytes but only %d follow", n, len(b)-idgOverhead)
	}
	crc := CRC16CCITT(b[:end])
	got := b[end : end+2]
	if !(got[0] == byte(crc>>8) && got[1] == byte(crc)) && !(got[0] == byte(crc) && got[1] == byte(crc>>8)) {
		return f, 0, errorf(CodeBadCRC, "IDG frame CRC %02X%02X does not match %04X in either byte order: the frame is damaged", got[0], got[1], crc)
	}
	f.Cmd, f.Sub, f.Data = b[10], b[11], b[14:end:end]
	return f, end + 2, nil
}
