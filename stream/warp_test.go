package stream

import (
	"math"
	"strconv"
	"testing"
)

// img is the 3×3 test image 1..9, row-major.
var img = []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}

func near(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("%s: pixel %d = %v, want %v (image %v)", what, i, got[i], want[i], got)
		}
	}
}

// TestRotationRightAngles: rotating by 0, 90, 180 and 270 degrees (counterclockwise as
// displayed) moves whole pixels, as by hand: 90° makes the first row 3 6 9.
func TestRotationRightAngles(t *testing.T) {
	for _, c := range []struct {
		deg  float64
		want []float32
	}{
		{0, img},
		{90, []float32{3, 6, 9, 2, 5, 8, 1, 4, 7}},
		{180, []float32{9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{270, []float32{7, 4, 1, 8, 5, 2, 9, 6, 3}},
		{-90, []float32{7, 4, 1, 8, 5, 2, 9, 6, 3}},
	} {
		out := make([]float32, 9)
		Rotation(3, 3, c.deg).Apply(out, img)
		near(t, "rotation by "+strconv.FormatFloat(c.deg, 'g', -1, 64), out, c.want)
	}
}

// TestRotation45: by 45° the centre stays 5; the top-middle output pixel samples the input at
// (1 + 1/√2, 1 - 1/√2), between 2, 3, 5 and 6 with weights (1-a)(1-b), a(1-b), (1-a)b, ab for
// a = 1/√2, b = 1 - 1/√2: 2(1/√2 - 1/2) + 3/2 + 5(3/2 - √2) + 6(1/√2 - 1/2) = 5 - √2; the
// top-left output pixel samples (1, 1 - √2), on column 1 between row -1 (outside: 0) and row 0
// (pixel 2, weight 2 - √2): 2 (2 - √2).
func TestRotation45(t *testing.T) {
	out := make([]float32, 9)
	Rotation(3, 3, 45).Apply(out, img)
	s2 := math.Sqrt2
	if math.Abs(float64(out[4])-5) > 1e-6 {
		t.Errorf("centre %v, want 5", out[4])
	}
	if want := 5 - s2; math.Abs(float64(out[1])-want) > 1e-5 {
		t.Errorf("top middle %v, want 5 - √2 = %v", out[1], want)
	}
	if want := 2 * (2 - s2); math.Abs(float64(out[0])-want) > 1e-5 {
		t.Errorf("top left %v, want 2 (2 - √2) = %v", out[0], want)
	}
}
