//go:build !purego

package graphs

//go:noescape
func adamAVX(w, grad, m, v *float32, n int, k *adamConsts)

func cpuHasAVX() bool

var haveAVX = cpuHasAVX()

// adamKernel applies adamGo's update to w, m and v with AVX (8 values at a time) where the
// processor has it, with the same results bit for bit.
func adamKernel(w, g, m, v []float32, k *adamConsts) {
	n := len(w)
	if len(g) != n || len(m) != n || len(v) != n {
		panic("graphs: adam: slices of different lengths")
	}
	done := 0
	if haveAVX && n >= 8 {
		done = n &^ 7
		adamAVX(&w[0], &g[0], &m[0], &v[0], done, k)
	}
	if done < n {
		adamGo(w[done:], g[done:], m[done:], v[done:], k)
	}
}
