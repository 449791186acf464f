// Package packagetest holds no code: its tests check posagent's packaging.
//
// Always (go test ./packaging/...): the systemd unit has the hardening the
// design asks for and passes `systemd-analyze verify`; the udev rules parse
// (a Go parser of every rule line's keys and operators, and `udevadm test`
// in a private mount namespace where that is possible: systemd 252 has no
// `udevadm verify`) and cover both vendors and every subsystem; the launchd
// plist runs the same command as the unit; the config template parses and
// lacks only the gateway credentials; the maintainer scripts parse and do
// the right systemctl calls; the Windows icon is a valid ICO.
//
// With POSAGENT_DIST set to a directory built by `make package` (make
// test-package does it), the artifacts too: the .deb's files, control fields
// and conffiles; an install into a throwaway root (dpkg --root when root,
// else dpkg-deb -x) whose binary runs `version` and `decode` on real
// samples; the Windows exe is PE32+ with its version resource, manifest and
// icon, and signs and verifies with a throwaway certificate; SHA256SUMS
// matches. In that mode a missing artifact or tool is a failure, not a skip.
package packagetest
