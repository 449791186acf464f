// Package app is the composition root: it turns a config into a running
// agent — journal, gateway client (or the embedded sandbox on a loopback
// port), reader drivers and their manager, the sale engine and the browser
// bridge — and stops them in the right order. It is the only package besides
// cmd/posagent that knows every concrete type (syncthing's App pattern:
// New, Start, Wait, Stop, driven by a thin main).
package app
