package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// envVars maps POSAGENT_* variables to the setting they override. Kiosk
// installers set these in the service unit instead of editing the file.
var envVars = []struct {
	name, field string
	set         func(c *Config, v string) error
}{
	{"POSAGENT_LISTEN", "listen", func(c *Config, v string) error { c.Listen = v; return nil }},
	{"POSAGENT_ALLOWED_ORIGINS", "allowed_origins", func(c *Config, v string) error {
		c.AllowedOrigins = nil
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.AllowedOrigins = append(c.AllowedOrigins, o)
			}
		}
		return nil
	}},
	{"POSAGENT_LOG_LEVEL", "log_level", func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"POSAGENT_GATEWAY_KIND", "gateway.kind", func(c *Config, v string) error { c.Gateway.Kind = v; return nil }},
	{"POSAGENT_GATEWAY_URL", "gateway.url", func(c *Config, v string) error { c.Gateway.URL = v; return nil }},
	{"POSAGENT_DEVELOPER_ID", "gateway.developer_id", func(c *Config, v string) error { c.Gateway.DeveloperID = v; return nil }},
	{"POSAGENT_USER_ID", "gateway.user_id", func(c *Config, v string) error { c.Gateway.UserID = v; return nil }},
	{"POSAGENT_USER_API_KEY", "gateway.user_api_key", func(c *Config, v string) error { c.Gateway.UserAPIKey = v; return nil }},
	{"POSAGENT_LOCATION_ID", "gateway.location_id", func(c *Config, v string) error { c.Gateway.LocationID = v; return nil }},
	{"POSAGENT_PRODUCT_TRANSACTION_ID", "gateway.product_transaction_id", func(c *Config, v string) error { c.Gateway.ProductTransactionID = v; return nil }},
	{"POSAGENT_SUBDOMAIN", "gateway.subdomain", func(c *Config, v string) error { c.Gateway.Subdomain = v; return nil }},
	{"POSAGENT_GATEWAY_TIMEOUT", "gateway.timeout", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration like \"30s\"", v)
		}
		c.Gateway.Timeout.Duration = d
		return nil
	}},
	{"POSAGENT_JOURNAL_PATH", "journal.path", func(c *Config, v string) error { c.Journal.Path = v; return nil }},
	{"POSAGENT_JOURNAL_KEEP_DAYS", "journal.keep_days", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number of days", v)
		}
		c.Journal.KeepDays = n
		return nil
	}},
}

// EnvNames lists the environment variables ApplyEnv reads.
func EnvNames() []string {
	n := make([]string, len(envVars))
	for i, e := range envVars {
		n[i] = e.name
	}
	return n
}

// ApplyEnv overrides settings from the environment; lookup is os.LookupEnv
// in production. Empty values are ignored, so an unset-but-exported
// variable does not wipe a configured value.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	for _, e := range envVars {
		v, ok := lookup(e.name)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		if err := e.set(c, strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("config: %s (%s): %w", e.name, e.field, err)
		}
	}
	return nil
}
