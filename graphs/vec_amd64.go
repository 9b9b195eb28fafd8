//go:build !purego

package graphs

//go:noescape
func addAVX(dst, src *float32, n int)

// addTo adds src to dst elementwise (len(src) values), with AVX where the processor has it;
// the same bits as the plain loop (one float32 addition per value).
func addTo(dst, src []float32) {
	n := len(src)
	dst = dst[:n]
	done := 0
	if haveAVX && n >= 8 {
		done = n &^ 7
		addAVX(&dst[0], &src[0], done)
	}
	for i := done; i < n; i++ {
		dst[i] += src[i]
	}
}

//go:noescape
func poolAVX(best *float32, arg *int32, row *float32, p int32, n int)

// poolMax keeps, value by value, the larger of best and row, and p in arg where row won (strictly
// larger: ties and NaNs keep best), with AVX where the processor has it; the same results as the
// plain loop.
func poolMax(best []float32, arg []int32, row []float32, p int32) {
	n := len(best)
	arg, row = arg[:n], row[:n]
	done := 0
	if haveAVX && n >= 8 {
		done = n &^ 7
		poolAVX(&best[0], &arg[0], &row[0], p, done)
	}
	for i := done; i < n; i++ {
		if row[i] > best[i] {
			best[i], arg[i] = row[i], p
		}
	}
}
