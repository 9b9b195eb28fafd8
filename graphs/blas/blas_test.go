package blas

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func needOpenBLAS(tb testing.TB) *OpenBLAS {
	tb.Helper()
	ob, err := LoadOpenBLAS()
	if err != nil {
		tb.Skipf("OpenBLAS not available: %v", err)
	}
	return ob
}

// useBLAS installs b in Gorgonia for the rest of the test.
func useBLAS(t *testing.T, b G.BLAS) {
	prev := G.WhichBLAS()
	G.Use(b)
	t.Cleanup(func() { G.Use(prev) })
}

func randF32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func closeRel32(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if d := math.Abs(g - w); d > tol*math.Max(1, math.Abs(w)) {
			t.Fatalf("%s[%d] = %v, want %v (diff %g)", what, i, g, w, d)
		}
	}
}

var transNames = map[blas.Transpose]string{blas.NoTrans: "N", blas.Trans: "T", blas.ConjTrans: "C"}

func TestSgemmMatchesGonum(t *testing.T) {
	ob := needOpenBLAS(t)
	r := rand.New(rand.NewSource(1))
	const m, n, k = 37, 53, 61 // non-square, above minGemmFlops
	for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
		for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, ab := range [][2]float32{{1, 0}, {1.3, -0.7}, {-0.5, 1}} {
				name := fmt.Sprintf("%s%s/alpha=%g/beta=%g", transNames[tA], transNames[tB], ab[0], ab[1])
				t.Run(name, func(t *testing.T) {
					// Stored shapes; leading dimensions exceed the widths.
					ar, ac := m, k
					if tA == blas.Trans {
						ar, ac = k, m
					}
					br, bc := k, n
					if tB == blas.Trans {
						br, bc = n, k
					}
					lda, ldb, ldc := ac+3, bc+5, n+7
					a := randF32(r, (ar-1)*lda+ac)
					b := randF32(r, (br-1)*ldb+bc)
					c0 := randF32(r, (m-1)*ldc+n+2) // trailing padding must stay untouched
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					gonum.Implementation{}.Sgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
					ob.Sgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
					closeRel32(t, "c", got, want, 1e-4)
				})
			}
		}
	}
}

func TestSgemmSmallAndDegenerate(t *testing.T) {
	ob := needOpenBLAS(t)
	r := rand.New(rand.NewSource(2))
	for _, d := range [][3]int{{0, 3, 4}, {3, 0, 4}, {3, 4, 0}, {1, 1, 1}, {2, 3, 4}, {1, 200, 300}, {300, 1, 200}} {
		m, n, k := d[0], d[1], d[2]
		a, b := randF32(r, m*max(1, k)), randF32(r, max(1, k)*n) // gonum wants (m-1)*lda+k even for k == 0
		c0 := randF32(r, m*n)
		want := append([]float32(nil), c0...)
		got := append([]float32(nil), c0...)
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 2, a, max(1, k), b, max(1, n), 0.5, want, max(1, n))
		ob.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 2, a, max(1, k), b, max(1, n), 0.5, got, max(1, n))
		closeRel32(t, fmt.Sprint(d), got, want, 1e-4)
	}
	// alpha == 0 only scales C and must not touch A or B.
	c := []float32{1, 2, 3, 4}
	ob.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 3, 0, make([]float32, 6), 3, make([]float32, 6), 2, 2, c, 2)
	closeRel32(t, "alpha=0", c, []float32{2, 4, 6, 8}, 0)
}

func TestDgemmMatchesGonum(t *testing.T) {
	ob := needOpenBLAS(t)
	r := rand.New(rand.NewSource(3))
	const m, n, k = 41, 29, 33
	for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
		for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			a := make([]float64, (max(m, k)+1)*(max(m, k)+2))
			b := make([]float64, (max(n, k)+1)*(max(n, k)+2))
			c := make([]float64, m*(n+1))
			for _, s := range [][]float64{a, b, c} {
				for i := range s {
					s[i] = r.NormFloat64()
				}
			}
			lda, ldb := k+2, n+2
			if tA == blas.Trans {
				lda = m + 2
			}
			if tB == blas.Trans {
				ldb = k + 2
			}
			want := append([]float64(nil), c...)
			gonum.Implementation{}.Dgemm(tA, tB, m, n, k, 0.9, a, lda, b, ldb, 0.3, want, n+1)
			ob.Dgemm(tA, tB, m, n, k, 0.9, a, lda, b, ldb, 0.3, c, n+1)
			for i := range c {
				if math.Abs(c[i]-want[i]) > 1e-10*math.Max(1, math.Abs(want[i])) {
					t.Fatalf("%s%s: c[%d] = %v, want %v", transNames[tA], transNames[tB], i, c[i], want[i])
				}
			}
		}
	}
}

func TestSgemvMatchesGonum(t *testing.T) {
	ob := needOpenBLAS(t)
	r := rand.New(rand.NewSource(4))
	const m, n, lda = 90, 70, 75
	a := randF32(r, (m-1)*lda+n)
	for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
		for _, inc := range [][2]int{{1, 1}, {2, 3}, {-2, 1}, {1, -3}} {
			lx, ly := n, m
			if tA == blas.Trans {
				lx, ly = m, n
			}
			x := randF32(r, (lx-1)*abs(inc[0])+1)
			y0 := randF32(r, (ly-1)*abs(inc[1])+1)
			want := append([]float32(nil), y0...)
			got := append([]float32(nil), y0...)
			gonum.Implementation{}.Sgemv(tA, m, n, 1.5, a, lda, x, inc[0], -0.25, want, inc[1])
			ob.Sgemv(tA, m, n, 1.5, a, lda, x, inc[0], -0.25, got, inc[1])
			closeRel32(t, fmt.Sprintf("%s inc=%v", transNames[tA], inc), got, want, 1e-4)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func panicOf(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

// TestPanicsMatchGonum checks that bad arguments panic with gonum's message before any C call.
// It needs no library: the checks run first.
func TestPanicsMatchGonum(t *testing.T) {
	ob := &OpenBLAS{fn: &cfuncs{}} // nil C functions: reaching C would be a nil-func panic
	s, big := make([]float32, 100), make([]float32, 1000)
	g := gonum.Implementation{}
	cases := []struct {
		name string
		args func(b blas.Float32)
	}{
		{"badTrans", func(b blas.Float32) { b.Sgemm('x', blas.NoTrans, 2, 2, 2, 1, s, 2, s, 2, 0, s, 2) }},
		{"m<0", func(b blas.Float32) { b.Sgemm(blas.NoTrans, blas.NoTrans, -1, 2, 2, 1, s, 2, s, 2, 0, s, 2) }},
		{"k<0", func(b blas.Float32) { b.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, -1, 1, s, 2, s, 2, 0, s, 2) }},
		{"lda", func(b blas.Float32) { b.Sgemm(blas.NoTrans, blas.NoTrans, 2, 3, 4, 1, s, 3, s, 3, 0, s, 3) }},
		{"ldaT", func(b blas.Float32) { b.Sgemm(blas.Trans, blas.NoTrans, 5, 3, 4, 1, s, 4, s, 3, 0, s, 3) }},
		{"ldb", func(b blas.Float32) { b.Sgemm(blas.NoTrans, blas.Trans, 2, 3, 4, 1, s, 4, s, 3, 0, s, 3) }},
		{"ldc", func(b blas.Float32) { b.Sgemm(blas.NoTrans, blas.NoTrans, 2, 3, 4, 1, s, 4, s, 3, 0, s, 2) }},
		{"shortA", func(b blas.Float32) { b.Sgemm(blas.NoTrans, blas.NoTrans, 30, 30, 30, 1, s, 30, s, 30, 0, s, 30) }},
		{"shortC", func(b blas.Float32) { b.Sgemm(blas.NoTrans, blas.NoTrans, 40, 3, 3, 1, big, 3, big, 3, 0, s, 3) }},
		{"gemvIncX", func(b blas.Float32) { b.Sgemv(blas.NoTrans, 2, 2, 1, s, 2, s, 0, 0, s, 1) }},
		{"gemvShortY", func(b blas.Float32) { b.Sgemv(blas.NoTrans, 80, 1, 1, s, 1, s, 1, 0, s, 2) }},
	}
	for _, c := range cases {
		want := panicOf(func() { c.args(g) })
		got := panicOf(func() { c.args(ob) })
		if want == "" || got != want {
			t.Errorf("%s: panic %q, gonum panics %q", c.name, got, want)
		}
	}
}

// recorder wraps a BLAS and records its Sgemm calls.
type recorder struct {
	G.BLAS
	mu    sync.Mutex
	calls []string
}

func (r *recorder) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	r.mu.Lock()
	r.calls = append(r.calls, fmt.Sprintf("%s%s %dx%dx%d", transNames[tA], transNames[tB], m, n, k))
	r.mu.Unlock()
	r.BLAS.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// mlpStep builds y = x·W, cost = Σ y⊙y, runs forward and backward on a TapeMachine and returns
// y, dcost/dx and dcost/dW.
func mlpStep(t *testing.T, x, w *tensor.Dense) (y, dx, dw []float32) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NodeFromAny(g, x, G.WithName("x"))
	wn := G.NodeFromAny(g, w, G.WithName("W"))
	yn := G.Must(G.Mul(xn, wn))
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(yn, yn))))
	var yv G.Value
	G.Read(yn, &yv)
	if _, err := G.Grad(cost, xn, wn); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	gx, err := xn.Grad()
	if err != nil {
		t.Fatal(err)
	}
	gw, err := wn.Grad()
	if err != nil {
		t.Fatal(err)
	}
	cp := func(v G.Value) []float32 { return append([]float32(nil), v.Data().([]float32)...) }
	return cp(yv), cp(gx), cp(gw)
}

func mlpInputs() (*tensor.Dense, *tensor.Dense) {
	r := rand.New(rand.NewSource(5))
	const batch, in, out = 32, 50, 40
	x := tensor.New(tensor.WithShape(batch, in), tensor.WithBacking(randF32(r, batch*in)))
	w := tensor.New(tensor.WithShape(in, out), tensor.WithBacking(randF32(r, in*out)))
	return x, w
}

// TestGorgoniaRoutesMulThroughInstalledBLAS installs a recording wrapper with gorgonia.Use and
// checks that Mul's forward product and both transposed backward products reach its Sgemm.
func TestGorgoniaRoutesMulThroughInstalledBLAS(t *testing.T) {
	rec := &recorder{BLAS: gonum.Implementation{}}
	useBLAS(t, rec)
	if tensor.WhichBLAS() != G.BLAS(rec) {
		t.Fatal("gorgonia.Use did not install the BLAS in gorgonia.org/tensor")
	}
	x, w := mlpInputs()
	mlpStep(t, x, w)
	got := strings.Join(rec.calls, ", ")
	for _, want := range []string{"NN 32x40x50", "NT 32x50x40", "TN 50x40x32"} {
		if !strings.Contains(got, want) {
			t.Errorf("Sgemm calls %q lack %q", got, want)
		}
	}
	t.Logf("Sgemm calls: %s", got)
}

// TestGorgoniaMulUsesOpenBLAS checks that with OpenBLAS installed the forward and both backward
// products are computed by cblas_sgemm, and that they match gonum's numbers.
func TestGorgoniaMulUsesOpenBLAS(t *testing.T) {
	ob := needOpenBLAS(t)
	x, w := mlpInputs()

	useBLAS(t, gonum.Implementation{})
	y0, dx0, dw0 := mlpStep(t, x, w)

	G.Use(ob)
	var mu sync.Mutex
	var calls []string
	testHookGemm = func(kind byte, tA, tB blas.Transpose, m, n, k int) {
		mu.Lock()
		calls = append(calls, fmt.Sprintf("%c %s%s %dx%dx%d", kind, transNames[tA], transNames[tB], m, n, k))
		mu.Unlock()
	}
	defer func() { testHookGemm = nil }()
	y1, dx1, dw1 := mlpStep(t, x, w)

	got := strings.Join(calls, ", ")
	for _, want := range []string{"s NN 32x40x50", "s NT 32x50x40", "s TN 50x40x32"} {
		if !strings.Contains(got, want) {
			t.Errorf("cblas calls %q lack %q", got, want)
		}
	}
	t.Logf("cblas calls: %s", got)
	closeRel32(t, "y", y1, y0, 1e-4)
	closeRel32(t, "dx", dx1, dx0, 1e-4)
	closeRel32(t, "dW", dw1, dw0, 1e-4)
}

func TestSetup(t *testing.T) {
	prev := G.WhichBLAS()
	t.Cleanup(func() { G.Use(prev) })
	info := Setup()
	if again := Setup(); again != info {
		t.Fatalf("Setup not idempotent: %+v then %+v", info, again)
	}
	t.Logf("%v", info)
	if info.Threads < 1 {
		t.Errorf("Threads = %d", info.Threads)
	}
	if tensor.WhichBLAS() != G.WhichBLAS() {
		t.Error("tensor and gorgonia disagree on the BLAS")
	}
	switch info.Name {
	case NameOpenBLAS:
		if _, ok := G.WhichBLAS().(*OpenBLAS); !ok {
			t.Errorf("Info says openblas, installed %T", G.WhichBLAS())
		}
		if !strings.Contains(info.Library, "openblas") {
			t.Errorf("Library = %q", info.Library)
		}
	case NameGonum:
		if info.Reason == "" {
			t.Error("gonum fallback without Reason")
		}
		if _, ok := G.WhichBLAS().(PureGo); !ok {
			t.Errorf("Info says gonum, installed %T", G.WhichBLAS())
		}
	default:
		t.Errorf("Name = %q", info.Name)
	}
}

func missing() (*OpenBLAS, error) { return nil, errors.New("cannot dlopen OpenBLAS, tried nothing") }

func TestSetupEnv(t *testing.T) {
	prev := G.WhichBLAS()
	t.Cleanup(func() { G.Use(prev) })

	t.Setenv(EnvBLAS, "gonum")
	info, err := setup(LoadOpenBLAS)
	if err != nil || info.Name != NameGonum || !strings.Contains(info.Reason, "forced") {
		t.Errorf("gonum: %+v, %v", info, err)
	}

	t.Setenv(EnvBLAS, "")
	info, err = setup(missing)
	if err != nil || info.Name != NameGonum || !strings.Contains(info.Reason, "apt-get install libopenblas0") {
		t.Errorf("auto, missing: %+v, %v", info, err)
	}
	if _, ok := G.WhichBLAS().(PureGo); !ok {
		t.Errorf("auto, missing: installed %T", G.WhichBLAS())
	}

	t.Setenv(EnvBLAS, "openblas")
	info, err = setup(missing)
	if err == nil || info.Name != NameGonum || !strings.Contains(err.Error(), "libopenblas0") {
		t.Errorf("strict, missing: %+v, %v", info, err)
	}

	t.Setenv(EnvBLAS, "mkl")
	if _, err = setup(missing); err == nil {
		t.Error("unknown CLGRAPH_BLAS accepted")
	}

	t.Setenv(EnvBLAS, "")
	t.Setenv(EnvThreads, "zero")
	if _, err = setup(missing); err == nil {
		t.Error("bad CLGRAPH_BLAS_THREADS accepted")
	}
}

func TestSetupThreads(t *testing.T) {
	ob := needOpenBLAS(t)
	prev := G.WhichBLAS()
	before := ob.Threads()
	t.Cleanup(func() { G.Use(prev); ob.SetThreads(before) })
	t.Logf("OpenBLAS config %q, default threads %d", ob.Config(), before)

	t.Setenv(EnvBLAS, "openblas")
	t.Setenv(EnvThreads, "1")
	info, err := setup(LoadOpenBLAS)
	if err != nil || info.Name != NameOpenBLAS || info.Threads != 1 || info.Reason != "" {
		t.Errorf("threads=1: %+v, %v", info, err)
	}
	if G.WhichBLAS() != G.BLAS(ob) {
		t.Errorf("installed %T", G.WhichBLAS())
	}
}

// TestSgemmConcurrent calls OpenBLAS from several goroutines at once.
func TestSgemmConcurrent(t *testing.T) {
	ob := needOpenBLAS(t)
	r := rand.New(rand.NewSource(6))
	const m, n, k = 64, 48, 80
	a, b := randF32(r, m*k), randF32(r, k*n)
	want := make([]float32, m*n)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, want, n)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := make([]float32, m*n)
			for i := 0; i < 50; i++ {
				ob.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
				for j := range c {
					if math.Abs(float64(c[j]-want[j])) > 1e-4*math.Max(1, math.Abs(float64(want[j]))) {
						errs <- fmt.Sprintf("c[%d] = %v, want %v", j, c[j], want[j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
