//go:build !amd64 || purego

package graphs

// addTo adds src to dst elementwise (len(src) values).
func addTo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}
