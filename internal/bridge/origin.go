package bridge

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/posagent/posagent/internal/config"
)

// NativeOrigin names clients that send no Origin header: not a browser
// (curl, a native POS, a script). Browsers always send Origin on a
// websocket handshake, so a missing one cannot be a web page. Such clients
// are treated as one more unknown origin: they must pair (`posagent pair
// --origin native`) and present their token, because any local process
// could otherwise drive sales — including, for a service, processes of
// other users who cannot read the state dir.
const NativeOrigin = "native"

// originKind is how a connection's Origin was admitted at the handshake.
type originKind int

const (
	originSelf    originKind = iota // the agent's own page
	originAllowed                   // configured allowed_origins
	originForeign                   // any other http(s) origin: must pair
	originNative                    // no Origin header: must pair
)

func (k originKind) String() string {
	return [...]string{"self", "allowed", "foreign", "native"}[k]
}

// NormalizeOrigin returns the canonical form of a web origin
// (config.CanonicalOrigin: strict, so that no second spelling of an origin
// — "http://127.0.0.1:017380" for the own page — is ever taken for it). It
// accepts NativeOrigin as is.
func NormalizeOrigin(o string) (string, error) {
	if o == NativeOrigin {
		return o, nil
	}
	return config.CanonicalOrigin(o)
}

// localPort is the port the request came in on.
func localPort(r *http.Request) int {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if t, ok := a.(*net.TCPAddr); ok {
			return t.Port
		}
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			n, _ := strconv.Atoi(p)
			return n
		}
	}
	return 0
}

// checkHost is the DNS-rebinding guard: Host must be 127.0.0.1:PORT,
// localhost:PORT or [::1]:PORT with the port the agent listens on. On a
// listener beyond loopback (lan) the address the connection arrived on,
// as an IP literal, is accepted too: LAN clients must reach the agent by
// it, and an IP literal cannot be rebound (a name can, and stays refused).
func checkHost(r *http.Request, lan bool) error {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		return fmt.Errorf("host %q: the agent answers only to 127.0.0.1:PORT, localhost:PORT or [::1]:PORT", clip(r.Host, 100))
	}
	if !loopbackNames[strings.ToLower(host)] && !(lan && isLocalIP(r, host)) {
		return fmt.Errorf("host %q is not this computer's loopback name: the agent answers only to 127.0.0.1, localhost or [::1] (DNS rebinding guard)", clip(r.Host, 100))
	}
	if p, err := config.CanonicalPort(port); err != nil || p != localPort(r) {
		return fmt.Errorf("host %q names another port than the agent's", clip(r.Host, 100))
	}
	return nil
}

// isLocalIP reports whether host is, in canonical form, the IP address the
// request's connection arrived on.
func isLocalIP(r *http.Request, host string) bool {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	ip := net.ParseIP(host)
	return ok && ip != nil && ip.String() == host && ip.Equal(a.IP)
}

// selfOrigin is the canonical origin of the agent's own page on port:
// pages loaded as localhost or [::1] are the same page, and share its
// results and sales.
func selfOrigin(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

// isSelf reports whether a normalized origin is the agent's own page.
func isSelf(origin string, port int) bool {
	p := strconv.Itoa(port)
	return origin == "http://127.0.0.1:"+p || origin == "http://localhost:"+p || origin == "http://[::1]:"+p
}

// classify admits or refuses a handshake's Origin. It returns the origin's
// canonical name, which scopes tokens, sales and results.
func (b *Bridge) classify(r *http.Request) (string, originKind, error) {
	vals := r.Header.Values("Origin")
	switch len(vals) {
	case 0:
		return NativeOrigin, originNative, nil
	case 1:
	default:
		return "", 0, errors.New("more than one Origin header")
	}
	if vals[0] == NativeOrigin {
		// "native" is our name for no Origin, never a browser's value.
		return "", 0, errors.New(`origin "native" is not a web origin`)
	}
	o, err := NormalizeOrigin(vals[0])
	if err != nil {
		return "", 0, err
	}
	port := localPort(r)
	if isSelf(o, port) {
		return selfOrigin(port), originSelf, nil
	}
	if b.allowed[o] {
		return o, originAllowed, nil
	}
	return o, originForeign, nil
}
