package verify

import (
	"math"
	"slices"
	"testing"
)

func TestTicks(t *testing.T) {
	if got := ticks(0, 5, 5); !slices.Equal(got, []float64{0, 1, 2, 3, 4, 5}) {
		t.Errorf("0..5: %v", got)
	}
	got := ticks(-0.3, 1.1, 7)
	want := []float64{-0.2, 0, 0.2, 0.4, 0.6, 0.8, 1}
	if len(got) != len(want) {
		t.Fatalf("-0.3..1.1: %v", got)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("-0.3..1.1: %v", got)
		}
	}
	if niceCeil(7.3) != 8 || niceCeil(0) != 1 || niceCeil(130) != 150 {
		t.Errorf("niceCeil %v %v %v", niceCeil(7.3), niceCeil(0), niceCeil(130))
	}
	if tickLabel(0.25, 0.05) != "0.25" || tickLabel(3, 1) != "3" || tickLabel(0.4, 0.2) != "0.4" {
		t.Error("tickLabel")
	}
}

func TestNiceTicks(t *testing.T) {
	got := niceTicks(5).Ticks(0, 1.5)
	var labels []string
	for _, tk := range got {
		labels = append(labels, tk.Label)
	}
	if !slices.Equal(labels, []string{"0.0", "0.5", "1.0", "1.5"}) {
		t.Errorf("0..1.5: %v", labels)
	}
}
