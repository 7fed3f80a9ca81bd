package verify

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/color"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// svgTexts parses b as XML with an <svg> root and returns the text of
// every <text> element.
func svgTexts(t *testing.T, b []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var texts []string
	var root string
	inText := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("svg does not parse: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			root = cmpOr(root, e.Name.Local)
			inText = e.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(e))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if root != "svg" {
		t.Fatalf("svg root element %q", root)
	}
	return texts
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func hasText(texts []string, s string) bool {
	for _, x := range texts {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// A hand-off with BUFFER time shows the strip in brown under the
// switchover, and the header says so; a passing run zooms on the switchover.
func TestTimelineHandoffSVG(t *testing.T) {
	m := handoffMigration(nil)
	m.Phases = append(m.Phases, api.Phase{Name: "postcopy", Start: t0.Add(3300 * time.Millisecond)}) // not ended
	s := synth(4000, 1000, 0)
	r := AnalyzeMigration(s, m, Limits{})
	var b bytes.Buffer
	if err := newTimeline(m, r, s).writeSVG(&b); err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, b.Bytes())
	for _, want := range []string{"BUFFER 38ms (brown strip)", "Zoom on the switchover (150ms)", "postcopy", "sent 1000 pps", "zoom",
		"Replies per 10ms bin", "time since the first test packet (s)"} {
		if !hasText(texts, want) {
			t.Errorf("svg lacks the text %q", want)
		}
	}
	if svg := b.String(); !strings.Contains(svg, `width="1400" height="985"`) || !strings.Contains(svg, "'Liberation Sans',Arial") {
		t.Errorf("svg not sized in pixels or without a fallback font: %.300s", svg)
	}
	for _, c := range []color.NRGBA{colBuffer, colReply, colBar} {
		if !hasFill(b.String(), c) {
			t.Errorf("svg has nothing filled in %v", c)
		}
	}
}

// hasFill reports whether svg fills something in c, give or take the
// rounding of an alpha colour's channels.
func hasFill(svg string, c color.NRGBA) bool {
	for _, m := range regexp.MustCompile(`fill:#([0-9A-F]{6})`).FindAllStringSubmatch(svg, -1) {
		v, _ := strconv.ParseUint(m[1], 16, 32)
		near := func(got uint64, want uint8) bool { return math.Abs(float64(got)-float64(want)) <= 2 }
		if near(v>>16, c.R) && near(v>>8&0xff, c.G) && near(v&0xff, c.B) {
			return true
		}
	}
	return false
}

// Bands are clipped to the data area, widened to their minimum width, and
// skipped when outside it or repeating the one before.
func TestBands(t *testing.T) {
	rec := &recorder.Canvas{}
	c := draw.NewCanvas(rec, 100, 50)
	p := plot.New()
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 10, 0, 1
	b := &bands{fill: colLost, minW: 4, bs: []band{
		fullHeight(-5, 2),                  // clipped at the left edge
		fullHeight(5, 5), fullHeight(5, 5), // widened; the copy skipped
		fullHeight(11, 12),                 // outside
		{7, math.Inf(1), 0.5, math.Inf(1)}, // to the top right corner
	}}
	b.Plot(c, p)
	var got []vg.Rectangle
	for _, a := range rec.Actions {
		if f, ok := a.(*recorder.Fill); ok {
			got = append(got, pathBounds(f.Path))
		}
	}
	want := []vg.Rectangle{
		{Min: vg.Point{X: 0, Y: 0}, Max: vg.Point{X: 20, Y: 50}},
		{Min: vg.Point{X: 48, Y: 0}, Max: vg.Point{X: 52, Y: 50}},
		{Min: vg.Point{X: 70, Y: 25}, Max: vg.Point{X: 100, Y: 50}},
	}
	if len(got) != len(want) {
		t.Fatalf("filled %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("band %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func pathBounds(p vg.Path) vg.Rectangle {
	r := vg.Rectangle{Min: vg.Point{X: vg.Length(math.Inf(1)), Y: vg.Length(math.Inf(1))}, Max: vg.Point{X: vg.Length(math.Inf(-1)), Y: vg.Length(math.Inf(-1))}}
	for _, pc := range p {
		if pc.Type == vg.MoveComp || pc.Type == vg.LineComp {
			r.Min.X, r.Min.Y = min(r.Min.X, pc.Pos.X), min(r.Min.Y, pc.Pos.Y)
			r.Max.X, r.Max.Y = max(r.Max.X, pc.Pos.X), max(r.Max.Y, pc.Pos.Y)
		}
	}
	return r
}

// The VNF's recovery after its resume is named in the header and drawn
// along the bottom of the rate plot.
func TestTimelineRecoverySVG(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s := served(t0, 6500*time.Millisecond)
	m := api.Migration{ID: "hostA-1", VM: "fw1", From: "hostA", To: "hostB", State: api.MigrationCompleted,
		Started: t0.Add(3 * time.Second), ResumedAt: t0.Add(5 * time.Second), Postcopy: true}
	r := AnalyzeMigration(s, m, Limits{MaxLost: -1})
	var b bytes.Buffer
	if err := newTimeline(m, r, s).writeSVG(&b); err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, b.Bytes())
	for _, want := range []string{"recovered 3100ms after the resume (to 90% of 1000/s)", "recovery 3100ms"} {
		if !hasText(texts, want) {
			t.Errorf("svg lacks the text %q", want)
		}
	}
	if !hasFill(b.String(), colRecovery) {
		t.Errorf("svg has nothing filled in the recovery colour")
	}
}
