package verify

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// timeline is the picture of one verification run.
type timeline struct {
	m       api.Migration
	r       Report
	samples []Sample
	t0      time.Time
}

func newTimeline(m api.Migration, r Report, samples []Sample) *timeline {
	t := &timeline{m: m, r: r, samples: samples}
	if len(samples) > 0 {
		t.t0 = samples[0].Sent
	}
	return t
}

func (t *timeline) writePNG(w io.Writer) error {
	img := image.NewRGBA(image.Rect(0, 0, 1400, 800))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	_ = color.White
	return png.Encode(w, img)
}

func (t *timeline) writeSVG(w io.Writer) error {
	_, err := io.WriteString(w, `<svg xmlns="http://www.w3.org/2000/svg" width="1400" height="800"></svg>`+"\n")
	return err
}
