// Package config is posagent's typed configuration: the TOML file
// documented key by key in docs/config.md (DocsRef), its defaults,
// POSAGENT_* environment overrides, per-OS default paths and a Validate
// that says, for every problem at once, which setting is wrong and what to
// write instead — the people who read these messages are store managers
// and kiosk installers. Its rules are the runtime's too: the bridge's host
// names (BridgeHosts, CheckListen), the gateway clients' URL rule
// (CheckGatewayURL) and allowed_origins (CanonicalOrigin); app.ValidateConfig
// adds the checks that need this computer.
//
// It imports nothing internal. Secrets: user_api_key may come from the file,
// from POSAGENT_USER_API_KEY, or (resolved by the caller) the OS keyring.
package config
