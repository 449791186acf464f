package assets

import _ "embed"

//go:generate go run gen_icon.go

//go:embed icon.png
var icon []byte

// Icon is the application icon (PNG, 256x256): window, tray and packages.
func Icon() []byte { return icon }
