// Package uitest provides Backend, an in-memory fake of ui.Backend for the
// window's tests and for trying the window without an agent: it records the
// commands it receives and lets a test emit the agent's events.
package uitest
