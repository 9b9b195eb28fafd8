package strategies

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// StateWriter is implemented by Checkpointers whose state is large (a penalty's weights and
// anchors, a previous model): the runner streams WriteState's bytes into the checkpoint file
// instead of calling SaveState, so a checkpoint write holds no copy of the state in memory.
// WriteState must write exactly the bytes SaveState returns (LoadState receives them on
// resume); SaveStateBytes turns a WriteState into a SaveState. StateEncoder writes tensors to w
// without copying them.
type StateWriter interface {
	WriteState(w io.Writer) error
}

// SaveStateBytes returns what s.WriteState writes: a SaveState for a StateWriter.
func SaveStateBytes(s StateWriter) ([]byte, error) {
	var b bytes.Buffer
	if err := s.WriteState(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// chunk is the size of the scratch buffers StateEncoder converts tensors through.
const chunk = 64 << 10

var scratch = sync.Pool{New: func() any { b := make([]byte, chunk); return &b }}

// StateEncoder writes a binary state (little-endian integers, IEEE-754 bits of floats,
// length-prefixed strings and tensors) to a writer through a pooled 64 KiB buffer: encoding
// a tensor allocates nothing, whatever its size. StateDecoder reads it back. The first error
// sticks: later calls do nothing and Close returns it.
type StateEncoder struct {
	w   io.Writer
	buf *[]byte
	n   int // bytes pending in buf
	err error
}

// NewStateEncoder returns an encoder writing to w; Close flushes it.
func NewStateEncoder(w io.Writer) *StateEncoder {
	return &StateEncoder{w: w, buf: scratch.Get().(*[]byte)}
}

func (e *StateEncoder) flush() {
	if e.err == nil && e.n > 0 {
		_, e.err = e.w.Write((*e.buf)[:e.n])
	}
	e.n = 0
}

// room returns a slice of k ≤ chunk free bytes of the buffer, flushing first when needed.
func (e *StateEncoder) room(k int) []byte {
	if e.n+k > chunk {
		e.flush()
	}
	b := (*e.buf)[e.n : e.n+k]
	e.n += k
	return b
}

// Uint64 writes v.
func (e *StateEncoder) Uint64(v uint64) { binary.LittleEndian.PutUint64(e.room(8), v) }

// Int writes v.
func (e *StateEncoder) Int(v int) { e.Uint64(uint64(int64(v))) }

// Float64 writes v's bits.
func (e *StateEncoder) Float64(v float64) { e.Uint64(math.Float64bits(v)) }

// Bool writes b as one byte.
func (e *StateEncoder) Bool(b bool) {
	r := e.room(1)
	r[0] = 0
	if b {
		r[0] = 1
	}
}

// Bytes writes len(b) and b.
func (e *StateEncoder) Bytes(b []byte) {
	e.Int(len(b))
	for len(b) > 0 {
		if e.n == chunk {
			e.flush()
		}
		k := copy((*e.buf)[e.n:], b)
		e.n += k
		b = b[k:]
	}
}

// String writes len(s) and s.
func (e *StateEncoder) String(s string) {
	e.Int(len(s))
	for len(s) > 0 {
		if e.n == chunk {
			e.flush()
		}
		k := copy((*e.buf)[e.n:], s)
		e.n += k
		s = s[k:]
	}
}

// Float32s writes len(xs) and the bits of every value.
func (e *StateEncoder) Float32s(xs []float32) { putWords(e, xs, math.Float32bits) }

// Int32s writes len(xs) and every value.
func (e *StateEncoder) Int32s(xs []int32) { putWords(e, xs, func(v int32) uint32 { return uint32(v) }) }

// putWords writes len(xs) and every value as the 4 little-endian bytes of bits(value).
func putWords[T any](e *StateEncoder, xs []T, bits func(T) uint32) {
	e.Int(len(xs))
	for len(xs) > 0 {
		k := min(len(xs), chunk/4)
		b := e.room(4 * k)
		for i, v := range xs[:k] {
			binary.LittleEndian.PutUint32(b[4*i:], bits(v))
		}
		xs = xs[k:]
	}
}

// Tensors writes len(ts) and every tensor (Float32s).
func (e *StateEncoder) Tensors(ts [][]float32) {
	e.Int(len(ts))
	for _, t := range ts {
		e.Float32s(t)
	}
}

// JSON writes v's JSON encoding as Bytes: for small values (counters, settings, indices).
func (e *StateEncoder) JSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		return
	}
	e.Bytes(b)
}

// Err returns the first error so far.
func (e *StateEncoder) Err() error { return e.err }

// Close flushes the buffer, returns it to the pool and returns the first error.
func (e *StateEncoder) Close() error {
	e.flush()
	if e.buf != nil {
		scratch.Put(e.buf)
		e.buf = nil
	}
	return e.err
}

// ErrStateFormat is wrapped by StateDecoder's errors: the data are not the encoding expected.
var ErrStateFormat = errors.New("strategies: malformed state")

// StateDecoder reads what a StateEncoder wrote, from memory. The first error sticks: later
// reads return zero values and Err returns it.
type StateDecoder struct {
	data []byte
	off  int
	err  error
}

// NewStateDecoder returns a decoder over data.
func NewStateDecoder(data []byte) *StateDecoder { return &StateDecoder{data: data} }

func (d *StateDecoder) fail(format string, a ...any) {
	if d.err != nil {
		return
	}
	d.err = fmt.Errorf("%w at byte %d: %s", ErrStateFormat, d.off, fmt.Sprintf(format, a...))
	if len(d.data) > 0 && d.data[0] == '{' {
		// Every binary state starts with its format name's length, far below '{' (123): this is
		// the JSON state of a build from before the binary state format.
		d.err = fmt.Errorf("%w: the state is JSON, as builds before the binary state format wrote it; "+
			"this checkpoint cannot be resumed by this build (delete checkpoint.ckpt to restart the run, or "+
			"resume with the build that wrote it)", d.err)
	}
}

func (d *StateDecoder) take(k int) []byte {
	if d.err != nil {
		return nil
	}
	if k < 0 || k > len(d.data)-d.off {
		d.fail("want %d bytes, %d left (truncated)", k, len(d.data)-d.off)
		return nil
	}
	b := d.data[d.off : d.off+k]
	d.off += k
	return b
}

// Uint64 reads a value Uint64 wrote.
func (d *StateDecoder) Uint64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// Int reads a value Int wrote.
func (d *StateDecoder) Int() int { return int(int64(d.Uint64())) }

// Float64 reads a value Float64 wrote.
func (d *StateDecoder) Float64() float64 { return math.Float64frombits(d.Uint64()) }

// Bool reads a value Bool wrote.
func (d *StateDecoder) Bool() bool {
	b := d.take(1)
	if b == nil {
		return false
	}
	if b[0] > 1 {
		d.fail("boolean byte %d", b[0])
	}
	return b[0] == 1
}

// length reads a length of items of size bytes each, checked against the bytes left.
func (d *StateDecoder) length(size int) int {
	n := d.Int()
	if d.err == nil && (n < 0 || n > (len(d.data)-d.off)/size) {
		d.fail("length %d with %d bytes left", n, len(d.data)-d.off)
		return 0
	}
	return n
}

// Bytes reads a value Bytes wrote: a copy, safe to keep.
func (d *StateDecoder) Bytes() []byte {
	n := d.length(1)
	b := d.take(n)
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

// String reads a value String wrote.
func (d *StateDecoder) String() string { return string(d.take(d.length(1))) }

// Float32s reads a tensor Float32s wrote.
func (d *StateDecoder) Float32s() []float32 { return words(d, math.Float32frombits) }

// words reads a slice putWords wrote, each value from(its 4 bytes).
func words[T any](d *StateDecoder, from func(uint32) T) []T {
	n := d.length(4)
	b := d.take(4 * n)
	if b == nil {
		return nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = from(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// Float32sInto reads a tensor Float32s wrote into dst, which must have its length.
func (d *StateDecoder) Float32sInto(dst []float32, what string) {
	n := d.length(4)
	if d.err == nil && n != len(dst) {
		d.fail("%s has %d values, want %d", what, n, len(dst))
		return
	}
	b := d.take(4 * n)
	for i := range dst {
		if b == nil {
			return
		}
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// Tensors reads what Tensors wrote.
func (d *StateDecoder) Tensors() [][]float32 {
	n := d.length(8) // every tensor takes at least its 8-byte length
	var out [][]float32
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.Float32s())
	}
	return out
}

// Int32s reads a slice Int32s wrote.
func (d *StateDecoder) Int32s() []int32 {
	return words(d, func(u uint32) int32 { return int32(u) })
}

// JSON decodes a value JSON wrote into v, rejecting unknown fields.
func (d *StateDecoder) JSON(v any) {
	b := d.take(d.length(1))
	if d.err != nil {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		d.fail("%v", err)
	} else if dec.More() {
		d.fail("data after the JSON value")
	}
}

// Rest is the number of bytes not read yet.
func (d *StateDecoder) Rest() int { return len(d.data) - d.off }

// Err returns the first error so far.
func (d *StateDecoder) Err() error { return d.err }

// Done returns the first error, or one when bytes are left over after everything expected was
// read: call it last.
func (d *StateDecoder) Done() error {
	if d.err == nil && d.off != len(d.data) {
		d.fail("%d bytes left over", len(d.data)-d.off)
	}
	return d.err
}

// finiteTensors reports the first NaN or infinite value of ts: a saved model must be finite.
func finiteTensors(ts [][]float32) error {
	for i, t := range ts {
		for j, v := range t {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("tensor %d holds %v at %d", i, v, j)
			}
		}
	}
	return nil
}
