package gateway

import (
	"net/url"
	"strings"
)

// liveHosts are the gateways' production API hosts: the only hosts where a
// request moves real money. Their sandboxes (api.sandbox.payaconnect.com,
// api.sandbox-paidyet.com), loopback and the embedded sandbox are not live.
var liveHosts = []string{
	"api.payaconnect.com", // Paya Connect v2 production (seed 000)
	"api.paidyet.com",     // PaidYET v3 production (seed 003)
}

// LiveHost returns the host of baseURL when it is a gateway's live
// (production) host, and "" otherwise. It is the one rule for reads
// encrypted under the public ANSI test key: such a reader is a demo or
// certification reader, so its reads are refused where the gateway is live
// and allowed everywhere else — the gateways' sandbox hosts, loopback and
// the embedded sandbox (docs/security.md).
func LiveHost(baseURL string) string {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return ""
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	for _, h := range liveHosts {
		if host == h {
			return host
		}
	}
	return ""
}
