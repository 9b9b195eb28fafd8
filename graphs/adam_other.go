//go:build !amd64 || purego

package graphs

const haveAVX = false

// adamKernel applies adamGo's update to w, m and v.
func adamKernel(w, g, m, v []float32, k *adamConsts) {
	n := len(w)
	if len(g) != n || len(m) != n || len(v) != n {
		panic("graphs: adam: slices of different lengths")
	}
	adamGo(w, g, m, v, k)
}
