package config

import (
	"os"
	"path/filepath"
	"runtime"
)

// Paths are where posagent keeps its files on this OS.
type Paths struct {
	// ConfigFile is read when --config is not given.
	ConfigFile string
	// StateDir holds the journal, paired origins and the API-key fallback file.
	StateDir string
}

// UserPaths are the per-user locations (desktop app at the counter).
func UserPaths() Paths { return userPaths(runtime.GOOS, os.Getenv, os.UserHomeDir) }

// SystemPaths are the locations of the service (kiosks): the config the
// package installs and a state dir the service user owns.
func SystemPaths() Paths { return systemPaths(runtime.GOOS, os.Getenv) }

func userPaths(goos string, getenv func(string) string, home func() (string, error)) Paths {
	h, err := home()
	if err != nil || h == "" {
		h = "."
	}
	switch goos {
	case "windows":
		cfg := getenv("APPDATA")
		if cfg == "" {
			cfg = filepath.Join(h, "AppData", "Roaming")
		}
		state := getenv("LOCALAPPDATA")
		if state == "" {
			state = filepath.Join(h, "AppData", "Local")
		}
		return Paths{filepath.Join(cfg, "posagent", "posagent.toml"), filepath.Join(state, "posagent")}
	case "darwin":
		dir := filepath.Join(h, "Library", "Application Support", "posagent")
		return Paths{filepath.Join(dir, "posagent.toml"), dir}
	}
	cfg := getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(h, ".config")
	}
	state := getenv("XDG_STATE_HOME")
	if state == "" {
		state = filepath.Join(h, ".local", "state")
	}
	return Paths{filepath.Join(cfg, "posagent", "posagent.toml"), filepath.Join(state, "posagent")}
}

func systemPaths(goos string, getenv func(string) string) Paths {
	switch goos {
	case "windows":
		pd := getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return Paths{filepath.Join(pd, "posagent", "posagent.toml"), filepath.Join(pd, "posagent", "state")}
	case "darwin":
		return Paths{"/Library/Application Support/posagent/posagent.toml", "/Library/Application Support/posagent/state"}
	}
	// systemd's StateDirectory=posagent sets STATE_DIRECTORY.
	state := getenv("STATE_DIRECTORY")
	if state == "" {
		state = "/var/lib/posagent"
	}
	return Paths{"/etc/posagent/posagent.toml", state}
}
