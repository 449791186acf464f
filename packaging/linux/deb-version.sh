#!/bin/sh
# deb-version.sh VERSION: print the Debian package version for the
# Makefile's VERSION (git describe --tags --always --dirty). A Debian version
# must start with a digit and sort the way releases do, so:
#   v1.2.3              -> 1.2.3
#   v1.2.3-rc.1         -> 1.2.3~rc.1          (~ sorts before the release)
#   v1.2.3-4-gabc1234   -> 1.2.3+git4.abc1234  (commits after the tag)
#   ...-dirty           -> ...+dirty, or .dirty after a + part
#   abc1234[-dirty]     -> 0.0.0~gitabc1234[+dirty] (no tag yet)
#   anything else       -> 0.0.0~ plus its characters that dpkg accepts
set -eu

v=${1:-}
dirty=
case "$v" in
*-dirty) dirty=1 v=${v%-dirty} ;;
esac

case "$v" in
v[0-9]*)
	v=${v#v}
	# -N-gSHA that git describe appends after a tag.
	after=$(printf '%s\n' "$v" | sed -n 's/.*-\([0-9][0-9]*\)-g\([0-9a-f][0-9a-f]*\)$/+git\1.\2/p')
	v=$(printf '%s\n' "$v" | sed 's/-[0-9][0-9]*-g[0-9a-f][0-9a-f]*$//')
	# What is left after X.Y.Z is a prerelease: sort it before the release.
	v=$(printf '%s\n' "$v" | sed 's/-/~/')
	v=$v$after
	;;
*)
	case "$v" in
	'' | *[!0-9a-f]*) v=0.0.0~$(printf '%s' "${v:-unknown}" | tr -c 'A-Za-z0-9.~' '.') ;;
	*) v=0.0.0~git$v ;;
	esac
	;;
esac

if [ -n "$dirty" ]; then
	case "$v" in
	*+*) v=$v.dirty ;;
	*) v=$v+dirty ;;
	esac
fi
printf '%s\n' "$v"
