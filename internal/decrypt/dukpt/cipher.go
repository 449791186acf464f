package dukpt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"fmt"
)

// The ciphers readers use: CBC with an all-zero IV over whole blocks. Readers
// pad each track with zeros (ID TECH) or ASCII '0' (some MagTek samples) up to
// the block size; these functions neither add nor strip padding, so the caller
// cuts the plaintext at the length or end sentinel it knows.

// EncryptTDESCBC encrypts data with TDES-CBC, IV zero. key is 16 bytes
// (2-key) or 24 bytes (3-key); len(data) must be a multiple of 8.
func EncryptTDESCBC(key, data []byte) ([]byte, error) {
	b, err := tdesBlock(key)
	if err != nil {
		return nil, err
	}
	return runCBC(b, data, true)
}

// DecryptTDESCBC decrypts data with TDES-CBC, IV zero. key is 16 bytes
// (2-key) or 24 bytes (3-key); len(data) must be a multiple of 8.
func DecryptTDESCBC(key, data []byte) ([]byte, error) {
	b, err := tdesBlock(key)
	if err != nil {
		return nil, err
	}
	return runCBC(b, data, false)
}

// EncryptAESCBC encrypts data with AES-CBC, IV zero. key is 16, 24 or 32
// bytes; len(data) must be a multiple of 16.
func EncryptAESCBC(key, data []byte) ([]byte, error) {
	b, err := aesBlock(key)
	if err != nil {
		return nil, err
	}
	return runCBC(b, data, true)
}

// DecryptAESCBC decrypts data with AES-CBC, IV zero. key is 16, 24 or 32
// bytes; len(data) must be a multiple of 16.
func DecryptAESCBC(key, data []byte) ([]byte, error) {
	b, err := aesBlock(key)
	if err != nil {
		return nil, err
	}
	return runCBC(b, data, false)
}

func tdesBlock(key []byte) (cipher.Block, error) {
	var k [24]byte
	switch len(key) {
	case 16:
		copy(k[:], key)
		copy(k[16:], key[:8])
	case 24:
		copy(k[:], key)
	default:
		return nil, fmt.Errorf("%w: TDES key is %d bytes, want 16 or 24", ErrKeyLength, len(key))
	}
	return des.NewTripleDESCipher(k[:])
}

func aesBlock(key []byte) (cipher.Block, error) {
	if _, _, ok := aesKeyType(len(key)); !ok {
		return nil, fmt.Errorf("%w: AES key is %d bytes, want 16, 24 or 32", ErrKeyLength, len(key))
	}
	return aes.NewCipher(key)
}

func runCBC(b cipher.Block, data []byte, encrypt bool) ([]byte, error) {
	n := b.BlockSize()
	if len(data)%n != 0 {
		return nil, fmt.Errorf("%w: %d bytes, block size %d", ErrDataLength, len(data), n)
	}
	iv := make([]byte, n)
	out := make([]byte, len(data))
	if encrypt {
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, data)
	} else {
		cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, data)
	}
	return out, nil
}
