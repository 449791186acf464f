package payaconnect

import (
	"testing"

	"github.com/posagent/posagent/internal/gateway/gatewaytest"
	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// TestSuiteSandbox runs the conformance suite against the embedded sandbox,
// written by another hand from the same seed: where the two readings of the
// seed differ, this fails.
func TestSuiteSandbox(t *testing.T) {
	gatewaytest.RunSuite(t, harness(sandbox.New(sandbox.Options{}), sandbox.LocationID, sandbox.ProductCCID))
}
