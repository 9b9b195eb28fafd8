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
