package stream

import "math"

// Warp is a fixed linear map of an input's pixels, applied like a task's permutation when a
// batch takes its examples: output pixel i is Σ_k W[4i+k] · x[Src[4i+k]], up to four source
// pixels (bilinear interpolation). A source outside the image has weight 0.
type Warp struct {
	Src []int32
	W   []float32
}

// Rotation returns the warp that rotates a w×h image (row-major, y down) by degrees
// counterclockwise as displayed, about its centre ((w-1)/2, (h-1)/2), with bilinear
// interpolation: output pixel (x, y) samples the input at the point that the inverse rotation
// maps it to, and pixels sampled outside the image are 0 (MNIST's background).
func Rotation(w, h int, degrees float64) *Warp {
	th := degrees * math.Pi / 180
	c, s := math.Cos(th), math.Sin(th)
	// Exact values at multiples of 90 degrees (cos(90°) is 6e-17 in floating point).
	if r := math.Mod(degrees, 90); r == 0 {
		c, s = math.Round(c), math.Round(s)
	}
	cx, cy := float64(w-1)/2, float64(h-1)/2
	wp := &Warp{Src: make([]int32, 4*w*h), W: make([]float32, 4*w*h)}
	for y := range h {
		for x := range w {
			dx, dy := float64(x)-cx, float64(y)-cy
			xs, ys := cx+c*dx-s*dy, cy+s*dx+c*dy
			x0, y0 := math.Floor(xs), math.Floor(ys)
			fx, fy := xs-x0, ys-y0
			i := 4 * (y*w + x)
			for k, corner := range [4][3]float64{{x0, y0, (1 - fx) * (1 - fy)}, {x0 + 1, y0, fx * (1 - fy)}, {x0, y0 + 1, (1 - fx) * fy}, {x0 + 1, y0 + 1, fx * fy}} {
				px, py, wt := int(corner[0]), int(corner[1]), corner[2]
				if px < 0 || px >= w || py < 0 || py >= h || wt == 0 {
					continue // weight 0 at source 0
				}
				wp.Src[i+k], wp.W[i+k] = int32(py*w+px), float32(wt)
			}
		}
	}
	return wp
}

// Apply writes the warped src into dst (len(dst) = len(src) = len(Src)/4).
func (wp *Warp) Apply(dst, src []float32) {
	for i := range dst {
		j := 4 * i
		s, w := wp.Src[j:j+4:j+4], wp.W[j:j+4:j+4]
		dst[i] = w[0]*src[s[0]] + w[1]*src[s[1]] + w[2]*src[s[2]] + w[3]*src[s[3]]
	}
}
