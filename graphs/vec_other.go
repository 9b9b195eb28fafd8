//go:build !amd64 || purego

package graphs

// addTo adds src to dst elementwise (len(src) values).
func addTo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// poolMax keeps, value by value, the larger of best and row, and p in arg where row won (strictly
// larger: ties and NaNs keep best).
func poolMax(best []float32, arg []int32, row []float32, p int32) {
	arg, row = arg[:len(best)], row[:len(best)]
	for i, v := range row {
		if v > best[i] {
			best[i], arg[i] = v, p
		}
	}
}
