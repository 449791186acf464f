package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// CanonicalOrigin returns the canonical form of a web origin as browsers
// serialize it: lower-case scheme://host[:port], no default port, no path.
// It is strict on purpose: the agent compares origins as strings, so every
// spelling a browser never sends is refused rather than guessed at — a port
// with leading zeros ("017380"), an IPv4 address in another form than
// dotted decimal ("127.1", "0x7f.0.0.1", "127.000.0.1"), an IPv6 address
// not in its shortest form, a wildcard ("https://*.example.com": origins
// are exact, list each one), empty labels. A trailing dot is kept: a
// browser treats "pos.example.com." as another origin than
// "pos.example.com", and so does the agent.
func CanonicalOrigin(o string) (string, error) {
	if o == "null" {
		return "", fmt.Errorf(`origin "null" (a file:// page or a sandboxed frame) cannot be admitted: serve the POS page from http(s)`)
	}
	if strings.Contains(o, "*") {
		return "", fmt.Errorf("%q: wildcards are not supported, an origin is matched exactly: list each POS origin (scheme://host[:port])", clip(o))
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an origin like https://pos.example.com", clip(o))
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("origin %q: only http and https pages can use the agent", clip(o))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.ForceQuery {
		return "", fmt.Errorf("origin %q: an origin is scheme://host[:port] only, without a path", clip(o))
	}
	host, err := canonicalHost(u.Hostname())
	if err != nil {
		return "", fmt.Errorf("origin %q: %w", clip(o), err)
	}
	port := u.Port()
	if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("origin %q: empty port", clip(o))
	}
	if port != "" {
		p, err := CanonicalPort(port)
		if err != nil {
			return "", fmt.Errorf("origin %q: %w", clip(o), err)
		}
		if (scheme == "http" && p == 80) || (scheme == "https" && p == 443) {
			port = ""
		}
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, nil
	}
	return scheme + "://" + host, nil
}

// CanonicalPort parses a port as browsers write it: decimal digits, no sign,
// no leading zero, 1-65535.
func CanonicalPort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p <= 0 || p > 65535 || strconv.Itoa(p) != s {
		return 0, fmt.Errorf("port %q is not a port as browsers write it (1-65535, no leading zeros)", clip(s))
	}
	return p, nil
}

// canonicalHost lower-cases a DNS name and checks its characters, or
// returns an IP address in its one canonical spelling (IPv6 in brackets).
func canonicalHost(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("no host")
	}
	if strings.Contains(h, ":") {
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is6() || ip.Is4In6() || ip.Zone() != "" || ip.String() != strings.ToLower(h) {
			return "", fmt.Errorf("host %q is not an IPv6 address in its shortest form", clip(h))
		}
		return "[" + ip.String() + "]", nil
	}
	h = strings.ToLower(h)
	name := strings.TrimSuffix(h, ".")
	if name == "" {
		return "", fmt.Errorf("no host")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return "", fmt.Errorf("host %q has an empty label", clip(h))
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c == '-', c == '_':
			default:
				return "", fmt.Errorf("host %q: only letters, digits, '-' and '.' (use the punycode xn-- form of an international name)", clip(h))
			}
		}
	}
	last := name[strings.LastIndexByte(name, '.')+1:]
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
		// A host whose last label is a number is an IPv4 address to a
		// browser (WHATWG URL), which serializes it in dotted decimal.
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is4() || ip.String() != h {
			return "", fmt.Errorf("host %q is not an IPv4 address in dotted decimal", clip(h))
		}
	}
	return h, nil
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
