package verify

import (
	"image/color"
	"strings"
	"testing"
)

func TestSVGCanvas(t *testing.T) {
	c := newSVGCanvas(100, 50)
	c.text(10, 20, `a<b & "c"`, textStyle{size: 12, c: colText, vertical: true})
	c.rect(0, 0, 5, 5, rgba(1, 2, 3, 128))
	c.poly([][2]float64{{0, 0}, {1, 0}}, colText) // degenerate: nothing
	out := string(c.bytes())
	for _, want := range []string{`a&lt;b &amp; &#34;c&#34;`, `rotate(-90 10.0 20.0)`, `fill="rgba(1,2,3,0.502)"`, "</svg>\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("svg lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<polygon") {
		t.Error("degenerate polygon drawn")
	}
}

func TestPNGCanvas(t *testing.T) {
	c, err := newPNGCanvas(200, 200)
	if err != nil {
		t.Fatal(err)
	}
	red := rgba(255, 0, 0, 255)
	c.rect(10, 10, 20, 20, red)
	if got := c.img.RGBAAt(20, 20); got != red {
		t.Errorf("inside rect: %v", got)
	}
	if got := c.img.RGBAAt(40, 40); got != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("outside rect: %v", got)
	}
	c.rect(-50, -50, 10, 10, red) // off the image: no panic
	// Vertical text starting at y=150 runs upwards from there, left of x=100.
	c.text(100, 150, "WWWW", textStyle{size: 20, c: colText, vertical: true})
	inked := func(x0, y0, x1, y1 int) bool {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				if c.img.RGBAAt(x, y).R < 128 {
					return true
				}
			}
		}
		return false
	}
	if !inked(80, 100, 101, 151) || inked(0, 152, 200, 200) || inked(102, 60, 200, 152) {
		t.Error("vertical text not where expected")
	}
	if w := c.textWidth("WWWW", textStyle{size: 20}); w < 40 || w > 100 {
		t.Errorf("text width %v", w)
	}
}
