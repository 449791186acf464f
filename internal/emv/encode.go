package emv

// lengthSize is the number of bytes of the BER length of n, in the minimal
// form (short form below 128, else 81/82/83/84 + big-endian bytes).
func lengthSize(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n <= 0xFF:
		return 2
	case n <= 0xFFFF:
		return 3
	case n <= 0xFFFFFF:
		return 4
	}
	return 5
}

func appendLength(dst []byte, n int) []byte {
	switch k := lengthSize(n) - 1; k {
	case 0:
		return append(dst, byte(n))
	default:
		dst = append(dst, 0x80|byte(k))
		for i := k - 1; i >= 0; i-- {
			dst = append(dst, byte(n>>(8*uint(i))))
		}
		return dst
	}
}

// AppendTLV appends one primitive object to dst: the tag, the minimal BER
// length and the value.
func AppendTLV(dst []byte, tag Tag, value []byte) []byte {
	dst = tag.AppendTo(dst)
	dst = appendLength(dst, len(value))
	return append(dst, value...)
}

// Append appends the encoding of tlvs to dst. A TLV with Children is encoded
// from its children (Value is ignored); otherwise from Value. Masked and
// Encrypted values get their NEO2 A1/C1 marker back. Lengths are written in
// the minimal form, so a reader's non-minimal "81 13" comes back as "13":
// Decode(Append(nil, Decode(b)…)) equals Decode(b), the bytes may not.
func Append(dst []byte, tlvs ...TLV) []byte {
	for _, t := range tlvs {
		dst = t.Tag.AppendTo(dst)
		switch {
		case t.Masked:
			dst = append(dst, markerMasked)
		case t.Encrypted:
			dst = append(dst, markerEncrypted)
		}
		if len(t.Children) > 0 {
			dst = appendLength(dst, contentSize(t.Children))
			dst = Append(dst, t.Children...)
			continue
		}
		dst = appendLength(dst, len(t.Value))
		dst = append(dst, t.Value...)
	}
	return dst
}

// Encode returns the encoding of tlvs (see Append).
func Encode(tlvs ...TLV) []byte {
	return Append(make([]byte, 0, contentSize(tlvs)), tlvs...)
}

// contentSize is the encoded size of a list of TLVs.
func contentSize(tlvs []TLV) int {
	n := 0
	for _, t := range tlvs {
		v := len(t.Value)
		if len(t.Children) > 0 {
			v = contentSize(t.Children)
		}
		n += t.Tag.Len() + lengthSize(v) + v
		if t.Masked || t.Encrypted {
			n++
		}
	}
	return n
}
