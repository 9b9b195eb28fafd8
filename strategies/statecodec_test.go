package strategies_test

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/strategies"
)

// TestStateCodec round-trips every kind of value through StateEncoder and StateDecoder (a tensor
// larger than the encoder's buffer, NaN bits included) and checks that every truncation and a
// trailing byte are refused.
func TestStateCodec(t *testing.T) {
	big := make([]float32, 40000) // 160 kB: crosses the 64 KiB buffer
	for i := range big {
		big[i] = float32(i) * 0.5
	}
	big[7] = math.Float32frombits(0x7fc00123) // a NaN payload
	ints := []int32{-3, 0, 1 << 30}
	blob := bytes.Repeat([]byte("xy"), 50000)
	var b bytes.Buffer
	e := strategies.NewStateEncoder(&b)
	e.String("fmt/v1")
	e.Int(-42)
	e.Float64(math.Inf(-1))
	e.Bool(true)
	e.Float32s(big)
	e.Int32s(ints)
	e.Bytes(blob)
	e.JSON(map[string]int{"a": 1})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	read := func(data []byte) (*strategies.StateDecoder, []float32, []byte) {
		d := strategies.NewStateDecoder(data)
		if d.String() != "fmt/v1" || d.Int() != -42 || !math.IsInf(d.Float64(), -1) || !d.Bool() {
			if d.Err() == nil {
				t.Fatal("scalars differ")
			}
		}
		f := d.Float32s()
		if got := d.Int32s(); d.Err() == nil && !slices.Equal(got, ints) {
			t.Fatalf("int32s %v", got)
		}
		bl := d.Bytes()
		var m map[string]int
		d.JSON(&m)
		if d.Err() == nil && m["a"] != 1 {
			t.Fatalf("json %v", m)
		}
		return d, f, bl
	}
	d, f, bl := read(data)
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
	if len(f) != len(big) || !bytes.Equal(bl, blob) {
		t.Fatal("tensor or bytes lost")
	}
	for i := range big {
		if math.Float32bits(f[i]) != math.Float32bits(big[i]) {
			t.Fatalf("value %d: bits %#x, want %#x", i, math.Float32bits(f[i]), math.Float32bits(big[i]))
		}
	}
	for _, cut := range []int{0, 5, 30, len(data) / 3, len(data) - 1} {
		if d, _, _ := read(data[:cut]); !errors.Is(d.Done(), strategies.ErrStateFormat) {
			t.Errorf("cut to %d of %d bytes: %v, want ErrStateFormat", cut, len(data), d.Done())
		}
	}
	if d, _, _ := read(append(bytes.Clone(data), 1)); d.Done() == nil {
		t.Error("a trailing byte accepted")
	}
	dst := make([]float32, 3)
	d = strategies.NewStateDecoder(data[len("fmt/v1")+8+8+8+1:])
	d.Float32sInto(dst, "w")
	if d.Err() == nil {
		t.Error("a tensor of 40000 values read into 3")
	}
}

// TestStateDecoderNamesJSONState checks that a strategy state in the JSON form of builds before
// the binary format (what a checkpoint from such a build holds) is refused with a message that says
// so and how to go on, not only with the byte where decoding failed.
func TestStateDecoderNamesJSONState(t *testing.T) {
	for _, old := range []string{`{"done":1}`, `{"done":2,"prev":{"w":[0.5]}}`} {
		d := strategies.NewStateDecoder([]byte(old))
		_ = d.String()
		_ = d.Int()
		err := d.Done()
		if !errors.Is(err, strategies.ErrStateFormat) {
			t.Fatalf("%s: %v, want ErrStateFormat", old, err)
		}
		for _, want := range []string{"JSON", "delete checkpoint.ckpt"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", old, err, want)
			}
		}
	}
	// A binary state that fails for another reason does not get the hint.
	d := strategies.NewStateDecoder([]byte{3, 0, 0, 0, 0, 0, 0, 0, 'a'})
	_ = d.String()
	if err := d.Err(); err == nil || strings.Contains(err.Error(), "JSON") {
		t.Errorf("truncated binary state: %v", err)
	}
}
