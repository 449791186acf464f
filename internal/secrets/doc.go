// Package secrets keeps the gateway API key out of the config file: in the
// OS keyring (Secret Service on Linux desktops, Keychain on macOS, Credential
// Manager on Windows) when there is one, else — on a headless kiosk, where
// no keyring daemon runs — in a file readable by the service user only
// (0600, in a 0700 state directory).
package secrets
