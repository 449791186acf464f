//go:build ignore

// gen_icon draws assets/icon.png: a card (blue, rounded) with a magnetic
// stripe and a chip, readable at tray size. Run with go generate ./assets.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
)

func main() {
	const n = 256
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	blue := color.NRGBA{0x1f, 0x5f, 0xbf, 0xff}
	stripe := color.NRGBA{0x20, 0x20, 0x28, 0xff}
	chip := color.NRGBA{0xe8, 0xc0, 0x40, 0xff}
	green := color.NRGBA{0x2e, 0xb8, 0x5c, 0xff}
	// Card: x 16..240, y 48..208 with corner radius 20.
	inCard := func(x, y int) bool {
		const x0, y0, x1, y1, r = 16, 48, 240, 208, 20
		if x < x0 || x >= x1 || y < y0 || y >= y1 {
			return false
		}
		cx, cy := x, y
		switch {
		case x < x0+r:
			cx = x0 + r
		case x >= x1-r:
			cx = x1 - r - 1
		}
		switch {
		case y < y0+r:
			cy = y0 + r
		case y >= y1-r:
			cy = y1 - r - 1
		}
		dx, dy := x-cx, y-cy
		return dx*dx+dy*dy <= r*r
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			switch {
			case !inCard(x, y):
				continue
			case y >= 72 && y < 100:
				img.Set(x, y, stripe)
			case x >= 40 && x < 88 && y >= 120 && y < 160:
				img.Set(x, y, chip)
			case (x-196)*(x-196)+(y-170)*(y-170) <= 22*22:
				img.Set(x, y, green) // "connected" dot
			default:
				img.Set(x, y, blue)
			}
		}
	}
	f, err := os.Create("icon.png")
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
