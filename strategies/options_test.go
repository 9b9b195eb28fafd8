package strategies_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/strategies"
)

// TestFloatOptionsInFloat32Range checks that float options, which strategies apply in float32
// arithmetic, are refused at parsing when float32 cannot hold them (issue 14: ewc:lambda=1e300
// was accepted and the run diverged).
func TestFloatOptionsInFloat32Range(t *testing.T) {
	reg := strategies.Default
	for _, spec := range []string{
		"ewc:lambda=1e300", "ewc:lambda=-1e300", "ewc:lambda=1e39", "l2:lambda=1e300", "ewc:lambda=1e-50",
		"ewc:lambda=1e400", "layerwise:decay=1e-60",
	} {
		_, err := reg.New(spec)
		if err == nil {
			t.Errorf("%s accepted", spec)
			continue
		}
		if !strings.Contains(err.Error(), "float32") {
			t.Errorf("%s: %v does not say float32", spec, err)
		}
	}
	for _, spec := range []string{"ewc:lambda=3e38", "ewc:lambda=0", "ewc:lambda=1e-30", "l2:lambda=auto", "layerwise:decay=1e-30"} {
		if _, err := reg.New(spec); err != nil {
			t.Errorf("%s refused: %v", spec, err)
		}
	}
	// A factor above 1 makes the applied value larger than the option: the check is on the
	// value the penalty's gradient uses, 2 * factor * strength.
	test := strategies.AutoTable{Key: "x.c", Fallback: 1}
	r := strategies.NewRegistry()
	r.Register(strategies.Info{Name: "x", Options: []strategies.Option{{Name: "c", Default: "auto", Auto: &test}, strategies.HeadsOption}},
		func(o *strategies.Options) (strategies.Strategy, error) {
			s := &strategies.Regularizer{}
			s.ParseRegularizer(o, "c", 1)
			return s, nil
		})
	if _, err := r.New("x:c=3e38"); err == nil || !strings.Contains(err.Error(), "float32") {
		t.Errorf("x:c=3e38 (2c overflows float32): %v", err)
	}
	if _, err := r.New("x:c=1e38"); err != nil {
		t.Errorf("x:c=1e38 refused: %v", err)
	}
}

// TestRegistryKey checks that two specs have the same Key when they configure a strategy
// alike once defaults are filled in and values read in normal form, and different Keys
// otherwise (issue 14: "ewc;ewc:lambda=auto" trained the same configuration twice).
func TestRegistryKey(t *testing.T) {
	reg := strategies.Default
	key := func(spec string) string {
		t.Helper()
		k, err := reg.Key(spec)
		if err != nil {
			t.Fatalf("Key(%s): %v", spec, err)
		}
		return k
	}
	for _, same := range [][]string{
		{"ewc", "ewc:lambda=auto", "ewc:lambda=AUTO", "ewc:online=false,heads=auto", "ewc:samples=1000,gamma=AUTO"},
		{"ewc:lambda=100", "ewc:lambda=1e2", "ewc:lambda=100.0"},
		{"ewc:online=true", "ewc:online=yes", "ewc:online=1"},
		{"naive", "naive:heads=auto"},
		{"layerwise", "layerwise:freeze=1,decay=1"},
		{"pnn", "pnn:adapter=false"},
	} {
		want := key(same[0])
		for _, s := range same[1:] {
			if got := key(s); got != want {
				t.Errorf("Key(%s) = %q, Key(%s) = %q: want the same", s, got, same[0], want)
			}
		}
	}
	for _, pair := range [][2]string{
		{"ewc", "ewc:lambda=100"}, {"ewc:lambda=100", "ewc:lambda=10"}, {"naive", "naive:heads=multi"}, {"naive", "naive:heads=single"},
		{"naive", "joint"}, {"ewc", "l2"}, {"ewc", "ewc:online=true"},
	} {
		if key(pair[0]) == key(pair[1]) {
			t.Errorf("%s and %s have the same Key %q", pair[0], pair[1], key(pair[0]))
		}
	}
	if !strings.HasPrefix(key("ewc"), "ewc:") || !strings.Contains(key("ewc"), "lambda=auto") {
		t.Errorf("Key(ewc) = %q: want the spec with every option", key("ewc"))
	}
	for _, bad := range []string{"nosuch", "ewc:nosuch=1", "ewc:lambda=x", "ewc:"} {
		if _, err := reg.Key(bad); err == nil {
			t.Errorf("Key(%s) accepted", bad)
		}
	}
}

// TestDivergedNamesTheTerm checks that a divergence error says which term of the training loss
// became non-finite (issue 14: a run diverged with "loss NaN, penalty 0", or named no term).
func TestDivergedNamesTheTerm(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, tc := range []struct {
		loss, pen float32
		want      string
	}{
		{1.5, inf, "the penalty term became +Inf"},
		{nan, 0, "the loss term became NaN"},
		{inf, nan, "the loss term became +Inf and the penalty term NaN"},
		{3e38, 3e38, "loss + penalty overflowed float32"},
	} {
		err := strategies.Diverged(tc.loss, tc.pen)
		if !errors.Is(err, strategies.ErrDiverged) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Diverged(%v, %v) = %v: want ErrDiverged saying %q", tc.loss, tc.pen, err, tc.want)
		}
	}
}
