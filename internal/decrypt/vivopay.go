package decrypt

import "github.com/posagent/posagent/internal/card"

// ParseVivopay parses an IDG response frame holding a card read, or the bare
// EMV TLVs of such a response.
func ParseVivopay(b []byte) (card.Read, error) {
	return card.Read{}, errorf(CodeUnknownFormat, "vivopay decoding is not built yet")
}
