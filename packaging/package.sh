#!/bin/sh
# package.sh: build the release artifacts into $DIST (make package runs it
# from the repository root):
#   posagent_<DEB_VERSION>_amd64.deb  full build (cashier window), nfpm
#   posagent_<DEB_VERSION>_arm64.deb  headless build, when aarch64-linux-gnu-gcc is installed
#   posagent-windows-amd64.exe        mingw-w64 cross-build with version resource, icon,
#                                     manifest; Authenticode-signed when SIGN_PKCS12 is set
#   SHA256SUMS
# Inputs (the Makefile passes them): GO, VERSION, DEB_VERSION, LDFLAGS,
# GUI_TAGS (build tags of the window builds, as make build uses them), DIST,
# NFPM, and optionally SIGN_PKCS12, SIGN_PASSWORD, SIGN_CAFILE, SIGN_TIMESTAMP.
# Temporary files live in a directory removed on exit: nothing generated is
# left in the source tree.
set -eu

: "${GO:=go}" "${DIST:=dist}" "${NFPM:=nfpm}" "${GUI_TAGS:=}"
: "${VERSION:?}" "${DEB_VERSION:?}" "${LDFLAGS:?}"
export DEB_VERSION

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$DIST"
mkdir -p "$DIST"

# timed LABEL CMD...: run CMD and say how long it took (CI budget).
timed() {
	label=$1
	shift
	start=$(date +%s)
	"$@"
	echo "package: $label: $(($(date +%s) - start)) s"
}

# deb ARCH BINARY CONFIG: one .deb with nfpm (which reads DEB_VERSION, DEB_ARCH
# and POSAGENT_BINARY from the environment).
deb() {
	DEB_ARCH=$1 POSAGENT_BINARY=$2 \
		"$NFPM" package --config "$3" --packager deb --target "$DIST/posagent_${DEB_VERSION}_$1.deb"
}

# Linux amd64: the full build, with make build's tags and without -trimpath
# on purpose: the package then reuses the compiled fyne/go-gl packages of
# `make build` (build cache), which saves ~2.5 min on a cold CI run; other
# tags or -trimpath would compile all of them again.
timed "linux/amd64 build" env CGO_ENABLED=1 GOOS=linux GOARCH=amd64 \
	"$GO" build -tags "$GUI_TAGS" -ldflags "-s -w $LDFLAGS" -o "$tmp/linux-amd64/posagent" ./cmd/posagent
timed "linux/amd64 deb" deb amd64 "$tmp/linux-amd64/posagent" packaging/linux/nfpm.yaml

# Linux arm64: headless (no fyne, so no arm64 GL/X11 libraries needed), cgo
# on so that the HID library keeps its libusb backend.
if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
	timed "linux/arm64 build" env CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc \
		"$GO" build -trimpath -tags headless -ldflags "-s -w $LDFLAGS" -o "$tmp/linux-arm64/posagent" ./cmd/posagent
	# The headless package: the config without the cashier window's lines.
	sed '/#gui:begin/,/#gui:end/d' packaging/linux/nfpm.yaml >"$tmp/nfpm-headless.yaml"
	timed "linux/arm64 deb" deb arm64 "$tmp/linux-arm64/posagent" "$tmp/nfpm-headless.yaml"
else
	echo "package: aarch64-linux-gnu-gcc not found: skipping the arm64 .deb (make package-deps as root installs it)"
fi

# Windows amd64. The resources (packaging/windows/posagent.rc) are compiled
# into a COFF object in $tmp and handed to the external linker, instead of
# a rsrc_windows_amd64.syso in cmd/posagent that every later build would
# pick up. The numeric FILEVERSION is X,Y,Z,0 of the Debian version
# (0,0,0,0 before the first tag); the strings carry VERSION itself.
num=$(printf '%s\n' "$DEB_VERSION" | sed -n 's/^\([0-9]\{1,5\}\)\.\([0-9]\{1,5\}\)\.\([0-9]\{1,5\}\).*/\1,\2,\3,0/p')
cat >"$tmp/version.h" <<EOF
#define POSAGENT_VERSION_NUM ${num:-0,0,0,0}
#define POSAGENT_VERSION_STR "$VERSION"
EOF
x86_64-w64-mingw32-windres -I "$tmp" -I packaging/windows -O coff \
	-o "$tmp/rsrc.o" packaging/windows/posagent.rc
# The console subsystem (no -H windowsgui): the same exe is run by the SCM
# and from a prompt (service install, version, decode), see
# packaging/windows/README.md.
timed "windows/amd64 build" env CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
	"$GO" build -trimpath -tags "$GUI_TAGS" -ldflags "-s -w $LDFLAGS -linkmode=external -extldflags=$tmp/rsrc.o" \
	-o "$DIST/posagent-windows-amd64.exe" ./cmd/posagent
packaging/windows/sign.sh "$DIST/posagent-windows-amd64.exe"

(cd "$DIST" && sha256sum -- *.deb *.exe >SHA256SUMS)
echo "package: $DIST:"
ls -l "$DIST"
