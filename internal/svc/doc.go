// Package svc installs, controls and reports on posagent as an operating
// system service — systemd on Linux, the Service Control Manager on Windows,
// launchd on macOS — through github.com/kardianos/service, and runs the
// agent under the Windows SCM.
//
// The service definitions themselves are not written here: the hardened
// systemd unit, the udev rules, the sysusers entry, the config template and
// the launchd plist live in packaging/ (one copy, shipped by the .deb and
// embedded here), so `posagent service install` and the package install the
// same thing. Only the executable's path is substituted.
package svc
