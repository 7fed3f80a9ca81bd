package verify

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// File names written by WriteReport.
const (
	ReportFile      = "report.json"
	TimelinePNGFile = "timeline.png"
	TimelineSVGFile = "timeline.svg"
)

// sampleColumns name the columns of report.json's samples.rows; times are
// nanoseconds since samples.t0 (received_ns -1: lost).
var sampleColumns = []string{"seq", "sent_ns", "received_ns", "rtt_ns", "copies", "reflector_seq", "arrival"}

// reportFile is report.json.
type reportFile struct {
	Migration    api.Migration `json:"migration"`
	Verification Report        `json:"verification"`
	Samples      sampleTable   `json:"samples"`
}

type sampleTable struct {
	T0      time.Time  `json:"t0"`
	Columns []string   `json:"columns"`
	Rows    [][7]int64 `json:"rows"`
}

// WriteReport writes report.json (the migration record, the verification
// report and every sample, one row per packet) and the timeline picture
// into dir, creating dir. It returns the paths written.
func WriteReport(dir string, m api.Migration, r Report, samples []Sample) (files []string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating report dir: %w", err)
	}
	p := filepath.Join(dir, ReportFile)
	if err := writeJSON(p, m, r, samples); err != nil {
		return nil, fmt.Errorf("writing %s: %w", ReportFile, err)
	}
	files = append(files, p)
	tl := newTimeline(m, r, samples)
	for _, f := range []struct {
		name  string
		write func(*os.File) error
	}{
		{TimelinePNGFile, func(w *os.File) error { return tl.writePNG(w) }},
		{TimelineSVGFile, func(w *os.File) error { return tl.writeSVG(w) }},
	} {
		p := filepath.Join(dir, f.name)
		if err := writeFile(p, f.write); err != nil {
			return files, fmt.Errorf("writing %s: %w", f.name, err)
		}
		files = append(files, p)
	}
	return files, nil
}

// writeFile writes through a temporary file renamed into place.
func writeFile(path string, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeJSON(path string, m api.Migration, r Report, samples []Sample) error {
	head, err := json.MarshalIndent(struct {
		Migration    api.Migration `json:"migration"`
		Verification Report        `json:"verification"`
	}{m, r}, "", "  ")
	if err != nil {
		return err
	}
	var t0 time.Time
	if len(samples) > 0 {
		t0 = samples[0].Sent
	}
	tj, _ := json.Marshal(t0)
	cj, _ := json.Marshal(sampleColumns)
	return writeFile(path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<16)
		w.Write(head[:len(head)-2]) // without "\n}"
		fmt.Fprintf(w, ",\n  \"samples\": {\n    \"t0\": %s,\n    \"columns\": %s,\n    \"rows\": [", tj, cj)
		var b []byte
		for i, s := range samples {
			row := sampleRow(t0, s)
			b = b[:0]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n      ["...)
			for j, v := range row {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, v, 10)
			}
			b = append(b, ']')
			w.Write(b)
		}
		w.WriteString("\n    ]\n  }\n}\n")
		return w.Flush()
	})
}

func sampleRow(t0 time.Time, s Sample) [7]int64 {
	recv := int64(-1)
	if !s.Lost() {
		recv = int64(s.Received.Sub(t0))
	}
	return [7]int64{int64(s.Seq), int64(s.Sent.Sub(t0)), recv, int64(s.RTT), int64(s.Copies), int64(s.ReflectorSeq), int64(s.Arrival)}
}

// ReadReport reads a report.json written by WriteReport.
func ReadReport(path string) (api.Migration, Report, []Sample, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return api.Migration{}, Report{}, nil, err
	}
	var f reportFile
	if err := json.Unmarshal(b, &f); err != nil {
		return api.Migration{}, Report{}, nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	samples := make([]Sample, len(f.Samples.Rows))
	for i, row := range f.Samples.Rows {
		s := Sample{Seq: uint32(row[0]), Sent: f.Samples.T0.Add(time.Duration(row[1])), RTT: time.Duration(row[3]),
			Copies: int(row[4]), ReflectorSeq: uint32(row[5]), Arrival: int(row[6])}
		if row[2] >= 0 {
			s.Received = f.Samples.T0.Add(time.Duration(row[2]))
		}
		samples[i] = s
	}
	return f.Migration, f.Verification, samples, nil
}
