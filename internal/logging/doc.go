// Package logging builds posagent's slog loggers: text for a person at a
// terminal, JSON for a service manager or a file, a level set by config, and
// a redacting handler in front of either that masks anything shaped like a
// card number or a clear track — a safety net behind the rule that card data
// never reaches a log line at all.
package logging
