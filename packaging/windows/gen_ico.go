//go:build ignore

// gen_ico writes packaging/windows/posagent.ico from assets/icon.png: the
// sizes Explorer, the taskbar and the title bar ask for (16 to 256 pixels),
// each a PNG image inside the ICO (Windows Vista and later read those). The
// 256-pixel image is the source PNG unchanged; the smaller ones are
// box-filtered from it, so no image library beyond the standard one is
// needed. Run with go generate ./packaging (see packaging/embed.go).
//
//	go run windows/gen_ico.go ../assets/icon.png windows/posagent.ico
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
)

// sizes are the square images written, smallest first (Windows picks the
// closest match for each place the icon appears).
var sizes = []int{16, 24, 32, 48, 64, 128, 256}

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: go run gen_ico.go SOURCE.png OUT.ico")
	}
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	ico, err := build(src)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(os.Args[2], ico, 0o644); err != nil {
		log.Fatal(err)
	}
}

func build(src []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("decode icon: %w", err)
	}
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		return nil, fmt.Errorf("icon is %dx%d, want 256x256", b.Dx(), b.Dy())
	}
	images := make([][]byte, len(sizes))
	for i, n := range sizes {
		if n == 256 {
			images[i] = src
			continue
		}
		var buf bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&buf, shrink(img, n)); err != nil {
			return nil, fmt.Errorf("encode %dx%d: %w", n, n, err)
		}
		images[i] = buf.Bytes()
	}

	// ICONDIR, then one ICONDIRENTRY per image, then the images.
	var out bytes.Buffer
	le := binary.LittleEndian
	out.Write(le.AppendUint16(nil, 0)) // reserved
	out.Write(le.AppendUint16(nil, 1)) // type: icon
	out.Write(le.AppendUint16(nil, uint16(len(sizes))))
	offset := 6 + 16*len(sizes)
	for i, n := range sizes {
		dim := byte(n)
		if n == 256 {
			dim = 0 // 0 means 256
		}
		out.Write([]byte{dim, dim, 0, 0})   // width, height, palette size, reserved
		out.Write(le.AppendUint16(nil, 1))  // colour planes
		out.Write(le.AppendUint16(nil, 32)) // bits per pixel
		out.Write(le.AppendUint32(nil, uint32(len(images[i]))))
		out.Write(le.AppendUint32(nil, uint32(offset)))
		offset += len(images[i])
	}
	for _, b := range images {
		out.Write(b)
	}
	return out.Bytes(), nil
}

// shrink box-filters img down to n×n: each output pixel is the area-weighted
// mean of the source pixels it covers, with alpha premultiplied so that
// transparent pixels do not darken the edges.
func shrink(img image.Image, n int) *image.NRGBA {
	b := img.Bounds()
	scale := float64(b.Dx()) / float64(n)
	dst := image.NewNRGBA(image.Rect(0, 0, n, n))
	for dy := 0; dy < n; dy++ {
		y0, y1 := float64(dy)*scale, float64(dy+1)*scale
		for dx := 0; dx < n; dx++ {
			x0, x1 := float64(dx)*scale, float64(dx+1)*scale
			var r, g, bl, a, area float64
			for sy := int(y0); float64(sy) < y1; sy++ {
				wy := overlap(float64(sy), y0, y1)
				for sx := int(x0); float64(sx) < x1; sx++ {
					w := wy * overlap(float64(sx), x0, x1)
					// RGBA is premultiplied, 16 bits per channel.
					pr, pg, pb, pa := img.At(b.Min.X+sx, b.Min.Y+sy).RGBA()
					r += w * float64(pr)
					g += w * float64(pg)
					bl += w * float64(pb)
					a += w * float64(pa)
					area += w
				}
			}
			if a == 0 {
				continue // fully transparent
			}
			// Back from premultiplied 16-bit to straight 8-bit.
			dst.SetNRGBA(dx, dy, color.NRGBA{
				R: uint8(r/a*255 + 0.5),
				G: uint8(g/a*255 + 0.5),
				B: uint8(bl/a*255 + 0.5),
				A: uint8(a/area/65535*255 + 0.5),
			})
		}
	}
	return dst
}

// overlap is how much of the unit interval [p, p+1) lies in [lo, hi).
func overlap(p, lo, hi float64) float64 {
	return max(0, min(p+1, hi)-max(p, lo))
}
