package verify

import (
	"image"
	"image/color"
	"image/draw"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// pngCanvas rasterises with anti-aliasing into an RGBA image, text in the
// Go fonts.
type pngCanvas struct {
	img   *image.RGBA
	z     *vector.Rasterizer
	faces map[faceKey]font.Face
	fonts [2]*opentype.Font
}

type faceKey struct {
	size float64
	bold bool
}

func newPNGCanvas(w, h int) (*pngCanvas, error) {
	c := &pngCanvas{img: image.NewRGBA(image.Rect(0, 0, w, h)), z: vector.NewRasterizer(1, 1), faces: map[faceKey]font.Face{}}
	draw.Draw(c.img, c.img.Bounds(), image.White, image.Point{}, draw.Src)
	for i, ttf := range [][]byte{goregular.TTF, gobold.TTF} {
		f, err := opentype.Parse(ttf)
		if err != nil {
			return nil, err
		}
		c.fonts[i] = f
	}
	return c, nil
}

// fill rasterises the closed polygon pts.
func (c *pngCanvas) fill(col color.RGBA, pts ...[2]float64) {
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		minX, maxX = min(minX, p[0]), max(maxX, p[0])
		minY, maxY = min(minY, p[1]), max(maxY, p[1])
	}
	r := image.Rect(int(math.Floor(minX)), int(math.Floor(minY)), int(math.Ceil(maxX)), int(math.Ceil(maxY)))
	r = r.Intersect(c.img.Bounds())
	if r.Empty() {
		return
	}
	c.z.Reset(r.Dx(), r.Dy())
	ox, oy := float64(r.Min.X), float64(r.Min.Y)
	c.z.MoveTo(float32(pts[0][0]-ox), float32(pts[0][1]-oy))
	for _, p := range pts[1:] {
		c.z.LineTo(float32(p[0]-ox), float32(p[1]-oy))
	}
	c.z.ClosePath()
	c.z.Draw(c.img, r, image.NewUniform(premultiplied(col)), image.Point{})
}

func (c *pngCanvas) rect(x, y, w, h float64, col color.RGBA) {
	c.fill(col, [2]float64{x, y}, [2]float64{x + w, y}, [2]float64{x + w, y + h}, [2]float64{x, y + h})
}

func (c *pngCanvas) line(x1, y1, x2, y2, width float64, col color.RGBA) {
	dx, dy := x2-x1, y2-y1
	l := math.Hypot(dx, dy)
	if l == 0 {
		return
	}
	nx, ny := -dy/l*width/2, dx/l*width/2
	c.fill(col, [2]float64{x1 + nx, y1 + ny}, [2]float64{x2 + nx, y2 + ny}, [2]float64{x2 - nx, y2 - ny}, [2]float64{x1 - nx, y1 - ny})
}

func (c *pngCanvas) poly(pts [][2]float64, col color.RGBA) {
	if len(pts) > 2 {
		c.fill(col, pts...)
	}
}

func (c *pngCanvas) dot(x, y, r float64, col color.RGBA) {
	const n = 12
	pts := make([][2]float64, n)
	for i := range pts {
		a := 2 * math.Pi * float64(i) / n
		pts[i] = [2]float64{x + r*math.Cos(a), y + r*math.Sin(a)}
	}
	c.fill(col, pts...)
}

func (c *pngCanvas) face(st textStyle) font.Face {
	k := faceKey{st.size, st.bold}
	if f, ok := c.faces[k]; ok {
		return f
	}
	i := 0
	if st.bold {
		i = 1
	}
	f, err := opentype.NewFace(c.fonts[i], &opentype.FaceOptions{Size: st.size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		panic(err) // the embedded fonts parse
	}
	c.faces[k] = f
	return f
}

func (c *pngCanvas) textWidth(s string, st textStyle) float64 {
	return float64(font.MeasureString(c.face(st), s)) / 64
}

func (c *pngCanvas) text(x, y float64, s string, st textStyle) {
	w := c.textWidth(s, st)
	switch st.anchor {
	case anchorMiddle:
		w /= 2
	case anchorStart:
		w = 0
	}
	f := c.face(st)
	if !st.vertical {
		d := font.Drawer{Dst: c.img, Src: image.NewUniform(st.c), Face: f, Dot: fixed.P(int(math.Round(x-w)), int(math.Round(y)))}
		d.DrawString(s)
		return
	}
	// Draw horizontally into a scratch image, then turn it a quarter left.
	m := f.Metrics()
	asc, desc := m.Ascent.Ceil(), m.Descent.Ceil()
	tw := int(math.Ceil(c.textWidth(s, st)))
	tmp := image.NewRGBA(image.Rect(0, 0, tw, asc+desc))
	d := font.Drawer{Dst: tmp, Src: image.NewUniform(st.c), Face: f, Dot: fixed.P(0, asc)}
	d.DrawString(s)
	rot := image.NewRGBA(image.Rect(0, 0, asc+desc, tw))
	for ty := 0; ty < asc+desc; ty++ {
		for tx := 0; tx < tw; tx++ {
			rot.SetRGBA(ty, tw-1-tx, tmp.RGBAAt(tx, ty))
		}
	}
	// The baseline (ty = asc) lands at x; the text starts at y (+w offset).
	x0, y0 := int(math.Round(x))-asc, int(math.Round(y+w))-tw
	draw.Draw(c.img, rot.Bounds().Add(image.Pt(x0, y0)), rot, image.Point{}, draw.Over)
}
