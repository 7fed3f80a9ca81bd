package verify

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// demoMigration is a synthetic migration of 5s of traffic at 1000 pps with
// a 120-packet loss burst in switchover.
func demoMigration() (api.Migration, []Sample) {
	s := lose(synth(5000, 1000, 40), 3010, 3130)
	for i := range s { // some RTT texture: slower while pre-copy runs
		if !s[i].Lost() {
			rtt := time.Duration(300+(i*7919)%200) * time.Microsecond
			if i > 200 && i < 3000 {
				rtt += time.Duration((i*104729)%900) * time.Microsecond
			}
			s[i].RTT, s[i].Received = rtt, s[i].Sent.Add(rtt)
		}
	}
	m := api.Migration{ID: "hostA-7", VM: "vnf1", From: "hostA", To: "hostB", Role: "source",
		State: api.MigrationCompleted, Started: t0.Add(-500 * time.Millisecond), Ended: t0.Add(3300 * time.Millisecond),
		Phases: phases(), TotalTime: api.Duration(3800 * time.Millisecond), QEMUDowntime: api.Duration(95 * time.Millisecond)}
	return m, s
}

func TestWriteReport(t *testing.T) {
	m, s := demoMigration()
	r := Analyze(s, m.Phases, Limits{MaxLost: 0, MaxGap: 100 * time.Millisecond})
	dir := filepath.Join(t.TempDir(), "out")
	files, err := WriteReport(dir, m, r, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ReportFile, TimelinePNGFile, TimelineSVGFile}
	if len(files) != len(want) {
		t.Fatalf("files %v", files)
	}
	for i, f := range files {
		if filepath.Base(f) != want[i] {
			t.Errorf("file %d = %s, want %s", i, f, want[i])
		}
	}
	gm, gr, gs, err := ReadReport(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if gm.ID != m.ID || len(gm.Phases) != len(m.Phases) || gm.QEMUDowntime != m.QEMUDowntime {
		t.Errorf("migration %+v", gm)
	}
	if gr != r {
		t.Errorf("report\n got %+v\nwant %+v", gr, r)
	}
	if len(gs) != len(s) {
		t.Fatalf("%d samples, want %d", len(gs), len(s))
	}
	for i := range s {
		a, b := s[i], gs[i]
		if a.Seq != b.Seq || !a.Sent.Equal(b.Sent) || !a.Received.Equal(b.Received) || a.Received.IsZero() != b.Received.IsZero() ||
			a.RTT != b.RTT || a.Copies != b.Copies || a.ReflectorSeq != b.ReflectorSeq || a.Arrival != b.Arrival {
			t.Fatalf("sample %d: %+v, want %+v", i, b, a)
		}
	}
	if again := Analyze(gs, gm.Phases, Limits{MaxLost: 0, MaxGap: 100 * time.Millisecond}); again != r {
		t.Errorf("re-analysis differs: %+v", again)
	}

	f, err := os.Open(filepath.Join(dir, TimelinePNGFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != tlW || b.Dy() != tlH {
		t.Errorf("picture %v, want %dx%d", b, tlW, tlH)
	}
	svg, err := os.ReadFile(filepath.Join(dir, TimelineSVGFile))
	if err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, svg)
	for _, want := range []string{r.Verdict, "round-trip time (ms)", "replies (packets/s)", "lost packet (120)",
		"largest gap 121ms in switchover", "switchover 150ms", "Zoom on the largest gap (121ms, 120 lost)"} {
		if !hasText(texts, want) {
			t.Errorf("svg lacks the text %q", want)
		}
	}
	if os.Getenv("NFH_TIMELINE_EXAMPLE") != "" {
		b, _ := os.ReadFile(filepath.Join(dir, TimelinePNGFile))
		os.WriteFile(os.Getenv("NFH_TIMELINE_EXAMPLE"), b, 0o644)
	}
}

func TestWriteReportEmpty(t *testing.T) {
	r := Analyze(nil, nil, Limits{})
	if _, err := WriteReport(t.TempDir(), api.Migration{}, r, nil); err != nil {
		t.Fatal(err)
	}
}

// TestTimelineExamples renders a passing run and a long 5000 pps run with
// a short gap into $NFH_TIMELINE_DIR, for looking at.
func TestTimelineExamples(t *testing.T) {
	dir := os.Getenv("NFH_TIMELINE_DIR")
	if dir == "" {
		t.Skip("set NFH_TIMELINE_DIR to render example timelines")
	}
	m, _ := demoMigration()
	s := synth(5000, 1000, 0)
	r := Analyze(s, m.Phases, Limits{MaxLost: 0})
	if _, err := WriteReport(filepath.Join(dir, "pass"), m, r, s); err != nil {
		t.Fatal(err)
	}
	// 60s at 5000 pps, switchover 58.0-58.06s, 200 packets lost.
	long := lose(synth(300000, 5000, 0), 290050, 290250)
	for i := range long {
		if !long[i].Lost() && i%1000 < 5 {
			long[i].RTT *= 30 // a few slow replies
		}
	}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	m.Phases = []api.Phase{{Name: "setup", Start: at(1000), End: at(1300)}, {Name: "precopy", Start: at(1300), End: at(58000)},
		{Name: "switchover", Start: at(58000), End: at(58060)}, {Name: "cleanup", Start: at(58060), End: at(58200)}}
	start := time.Now()
	r = Analyze(long, m.Phases, Limits{MaxLost: 0, MaxGap: 100 * time.Millisecond})
	files, err := WriteReport(filepath.Join(dir, "long"), m, r, long)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("300000 samples analysed and written in %v: %v", time.Since(start), files)
}
