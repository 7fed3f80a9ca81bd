package wsguest

import "testing"

// BenchmarkReport256MiB is one report of a 256 MiB working set.
func BenchmarkReport256MiB(b *testing.B) {
	hot := make([]byte, 256<<20)
	for i := 0; i < len(hot); i += pageSize {
		hot[i] = 1
	}
	s, err := NewScan()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for b.Loop() {
		if _, err := s.Report(hot, nil); err != nil {
			b.Fatal(err)
		}
	}
	r, _ := s.Report(hot, nil)
	b.ReportMetric(float64(len(r.Ranges)), "ranges")
}
