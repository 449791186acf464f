// Package assets embeds the files the agent serves and shows: the demo POS
// page and posagent.js (with its TypeScript types) under web/.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed web
var files embed.FS

// Web is the web root: index.html, app.js, app.css, posagent.js,
// posagent.d.ts, favicon.svg.
func Web() fs.FS {
	sub, err := fs.Sub(files, "web")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}
