// Package packaging holds the files that install posagent as an OS service
// — the systemd unit, udev rules and sysusers.d entry for Linux, the
// launchd plist for macOS — and embeds them, so that `posagent service
// install` writes exactly what the .deb installs. The directories hold the
// rest of the packaging: linux/ (nfpm .deb, maintainer scripts, the config
// template), windows/ (version resource, icon, manifest, signing) and macos/
// (app bundle notes); package.sh builds them all into dist/ (make package).
//
// SystemdUnit names the binary as /usr/bin/posagent exactly once, in
// ExecStart, and LaunchdPlist as /usr/local/bin/posagent, in
// ProgramArguments: an installer replaces that path with the running
// executable's. Neither contains "{{", so both pass through text/template
// unchanged.
package packaging

import _ "embed"

//go:generate go run windows/gen_ico.go ../assets/icon.png windows/posagent.ico

// SystemdUnit is linux/posagent.service, installed as
// /usr/lib/systemd/system/posagent.service.
//
//go:embed linux/posagent.service
var SystemdUnit string

// UdevRules is linux/60-posagent.rules, installed as
// /usr/lib/udev/rules.d/60-posagent.rules.
//
//go:embed linux/60-posagent.rules
var UdevRules string

// Sysusers is linux/posagent.sysusers, installed as
// /usr/lib/sysusers.d/posagent.conf: it creates the posagent user and group.
//
//go:embed linux/posagent.sysusers
var Sysusers string

// LaunchdPlist is macos/com.posagent.agent.plist, installed as
// /Library/LaunchDaemons/com.posagent.agent.plist.
//
//go:embed macos/com.posagent.agent.plist
var LaunchdPlist string

// ConfigTemplate is linux/posagent.toml: the commented configuration the
// .deb installs as /etc/posagent/posagent.toml (a conffile), and `posagent
// service install` writes where no config exists yet. It parses, and
// validates except for the empty gateway credentials.
//
//go:embed linux/posagent.toml
var ConfigTemplate string
