package strategies

import (
	"encoding/json"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/graphs"
)

func TestSourceResumes(t *testing.T) {
	r, src := NewRand(42, 1)
	for i := 0; i < 17; i++ {
		r.Intn(1000)
	}
	state, err := src.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var want []float64
	for i := 0; i < 50; i++ {
		want = append(want, r.Float64(), float64(r.Intn(7)), r.NormFloat64())
	}
	r2, src2 := NewRand(7, 3) // another sequence, overwritten below
	if err := src2.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	var got []float64
	for i := 0; i < 50; i++ {
		got = append(got, r2.Float64(), float64(r2.Intn(7)), r2.NormFloat64())
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("a restored source does not continue the sequence")
	}
	a, _ := NewRand(1, 1)
	b, _ := NewRand(1, 2)
	c, _ := NewRand(2, 1)
	if x, y, z := a.Int63(), b.Int63(), c.Int63(); x == y || x == z {
		t.Fatal("seeds or streams do not give different sequences")
	}
	if err := src2.UnmarshalBinary([]byte("junk")); err == nil {
		t.Fatal("a junk state was accepted")
	}
	var _ rand.Source64 = src
}

func TestF32JSON(t *testing.T) {
	in := F32{0, -0, 1.5, float32(math.Inf(-1)), float32(math.NaN()), math.SmallestNonzeroFloat32}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out F32
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if math.Float32bits(in[i]) != math.Float32bits(out[i]) {
			t.Fatalf("value %d: %v became %v", i, in[i], out[i])
		}
	}
	if err := json.Unmarshal([]byte(`"AAA="`), &out); err == nil {
		t.Fatal("3 bytes decoded as float32s")
	}
	var iv I32
	if err := json.Unmarshal([]byte(`"AQAAAP////8="`), &iv); err != nil || !reflect.DeepEqual(iv, I32{1, -1}) {
		t.Fatalf("I32: %v %v", iv, err)
	}
}

func TestLoadParamsChecksStructure(t *testing.T) {
	mk := func() *graphs.ParamSet {
		ps := graphs.NewParamSet()
		ps.Add("a/W", "trunk", 2, 3)
		ps.Add("a/b", "trunk", 1, 3)
		return ps
	}
	src := mk()
	for i := range src.All()[0].Data() {
		src.All()[0].Data()[i] = float32(i)
	}
	src.All()[1].LRScale = 0.5
	saved := SaveParams(src)
	dst := mk()
	if err := LoadParams(dst, saved); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dst.All()[0].Data(), src.All()[0].Data()) || dst.All()[1].LRScale != 0.5 {
		t.Fatal("values or LRScale not restored")
	}
	extra := mk()
	extra.Add("c/W", "col1", 3, 3)
	frozen := mk()
	frozen.All()[0].Frozen = true
	shape := graphs.NewParamSet()
	shape.Add("a/W", "trunk", 3, 2)
	shape.Add("a/b", "trunk", 1, 3)
	for name, tc := range map[string]struct {
		ps   *graphs.ParamSet
		want string
	}{
		"missing": {extra, "lacks parameters [c/W]"},
		"frozen":  {frozen, "frozen=true after replaying"},
		"shape":   {shape, "has shape [3 2]"},
	} {
		before := append([]float32(nil), tc.ps.All()[0].Data()...)
		err := LoadParams(tc.ps, saved)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if !reflect.DeepEqual(before, tc.ps.All()[0].Data()) {
			t.Errorf("%s: a refused load changed values", name)
		}
	}
	small := graphs.NewParamSet()
	small.Add("a/W", "trunk", 2, 3)
	if err := LoadParams(small, saved); err == nil || !strings.Contains(err.Error(), "replayed strategy lacks") {
		t.Errorf("extra saved parameter: %v", err)
	}
}

func TestAdamAndQuadraticState(t *testing.T) {
	ps := graphs.NewParamSet()
	p := ps.Add("w", "trunk", 1, 4)
	a := graphs.NewAdam(0.1)
	a.Update(ps.All(), func(*graphs.Param) []float32 { return []float32{1, 2, 3, 4} })
	s := SaveAdam(a)
	b := graphs.NewAdam(0.5)
	if err := LoadAdam(b, s, ps); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("Adam not restored: %+v vs %+v", a, b)
	}
	s.M["ghost"] = F32{1}
	if err := LoadAdam(b, s, ps); err == nil {
		t.Fatal("moments of an unknown parameter accepted")
	}
	q := graphs.NewQuadratic(2, []*graphs.Param{p})
	copy(q.Terms[0].Weights(), []float32{1, 2, 3, 4})
	q.Offset = 0.25
	qs := SaveQuadratic(q)
	raw, err := json.Marshal(qs)
	if err != nil {
		t.Fatal(err)
	}
	var back QuadraticState
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	q2 := graphs.NewQuadratic(1, []*graphs.Param{p})
	if err := LoadQuadratic(q2, back); err != nil {
		t.Fatal(err)
	}
	if q2.Scale != 2 || q2.Offset != 0.25 || !reflect.DeepEqual(q2.Terms[0].Weights(), q.Terms[0].Weights()) {
		t.Fatal("quadratic not restored")
	}
}
