#!/bin/sh
# sign.sh EXE: Authenticode-sign EXE in place with osslsigncode (SHA-256),
# then verify the signature. Signs only when a certificate is provided:
#   SIGN_PKCS12    path of the PKCS#12 (.p12/.pfx) file: certificate + key
#   SIGN_PASSWORD  its password (given to osslsigncode through a 0600 file,
#                  never on a command line that ps could show)
#   SIGN_CAFILE    optional: CA certificates (PEM) to verify against; needed
#                  for a self-signed or private-CA test certificate
#   SIGN_TIMESTAMP optional: RFC 3161 timestamp server URL, so that the
#                  signature outlives the certificate
# Without SIGN_PKCS12 it prints a note and leaves EXE unsigned (exit 0).
set -eu

exe=${1:?usage: sign.sh EXE}
if [ -z "${SIGN_PKCS12:-}" ]; then
	echo "sign: SIGN_PKCS12 not set: $exe left unsigned (set SIGN_PKCS12 and SIGN_PASSWORD to sign)"
	exit 0
fi
command -v osslsigncode >/dev/null 2>&1 || {
	echo "sign: osslsigncode not found (apt-get install osslsigncode)" >&2
	exit 1
}
[ -r "$SIGN_PKCS12" ] || {
	echo "sign: cannot read SIGN_PKCS12=$SIGN_PKCS12" >&2
	exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(umask 077 && printf '%s' "${SIGN_PASSWORD:-}" >"$tmp/pass")

set -- -pkcs12 "$SIGN_PKCS12" -readpass "$tmp/pass" -h sha256 -n posagent \
	-i https://github.com/posagent/posagent
if [ -n "${SIGN_TIMESTAMP:-}" ]; then
	set -- "$@" -ts "$SIGN_TIMESTAMP"
fi
osslsigncode sign "$@" -in "$exe" -out "$tmp/signed.exe" >"$tmp/log" 2>&1 || {
	cat "$tmp/log" >&2
	echo "sign: osslsigncode sign failed" >&2
	exit 1
}

set --
if [ -n "${SIGN_CAFILE:-}" ]; then
	set -- -CAfile "$SIGN_CAFILE"
fi
if ! osslsigncode verify "$@" -in "$tmp/signed.exe" >"$tmp/verify" 2>&1; then
	cat "$tmp/verify" >&2
	echo "sign: the signature of $exe does not verify" >&2
	exit 1
fi
mv "$tmp/signed.exe" "$exe"
echo "sign: $exe signed and verified"
