// Package web owns the browser app: the HTML page, style sheet and ES modules under
// static/, embedded in the binary so that the server needs no build step and no files
// beside it. internal/httpapi serves them.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// Static returns the app's files, rooted at the static directory: index.html, app.css,
// app.js and the modules it imports are at its top level.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil { // cannot happen: "static" is a valid path, embedded above
		panic(err)
	}
	return sub
}
