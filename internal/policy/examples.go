package policy

import (
	"embed"
	"io/fs"
)

//go:embed examples/*.yaml
var examples embed.FS

// Examples returns the shipped example policies (china-2020.yaml: the 2020 mainland China
// timeline as data).
func Examples() fs.FS { return examples }
