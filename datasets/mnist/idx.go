package mnist

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors, usable with errors.Is on any error returned by this package.
var (
	// ErrFormat reports malformed IDX data: bad magic number, unexpected
	// dimensions, truncated or trailing bytes, corrupt gzip stream, labels out
	// of range, or image and label counts that disagree.
	ErrFormat = errors.New("mnist: malformed IDX data")
	// ErrChecksum reports a file whose SHA-256 differs from the expected one.
	ErrChecksum = errors.New("mnist: checksum mismatch")
)

const (
	// MaxIDXBytes caps the payload size (product of the dimensions) that the
	// parser accepts; larger declared sizes are rejected before any allocation.
	// The largest MNIST file (training images) holds 47,040,000 payload bytes.
	MaxIDXBytes = 100 << 20

	// ImagesMagic is the IDX magic number of an MNIST images file:
	// unsigned bytes (0x08), 3 dimensions (count, rows, cols).
	ImagesMagic = 0x00000803
	// LabelsMagic is the IDX magic number of an MNIST labels file:
	// unsigned bytes (0x08), 1 dimension (count).
	LabelsMagic = 0x00000801

	// Rows and Cols are the image dimensions every MNIST-style file must have.
	Rows = 28
	Cols = 28 // see Rows

	// NumClasses is the number of distinct labels (digits 0..9).
	NumClasses = 10

	idxTypeUByte = 0x08
	// initialChunk bounds the first allocation made for a payload; the buffer
	// then grows with the data actually read, so a small input that declares a
	// large (but allowed) size cannot force a large allocation.
	initialChunk = 1 << 20
)

// IDX is a decoded IDX file whose elements are unsigned bytes.
type IDX struct {
	// Dims are the declared dimensions, outermost first.
	Dims []int
	// Data holds the product of Dims bytes, in row-major order.
	Data []uint8
}

// trackReader remembers the last non-EOF error of the underlying reader, so an
// I/O failure can be told apart from malformed content reported by gzip.
type trackReader struct {
	r   io.Reader
	err error
}

func (t *trackReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// ParseIDX decodes one IDX file of unsigned bytes from r, transparently
// decompressing it when it starts with the gzip magic bytes 0x1f 0x8b. name
// identifies the input in error messages. The payload length must equal the
// product of the dimensions exactly: truncated input or trailing bytes are
// ErrFormat errors, as are a bad magic number, a corrupt gzip stream and a
// declared payload larger than MaxIDXBytes. ParseIDX never panics.
func ParseIDX(name string, r io.Reader) (*IDX, error) {
	tr := &trackReader{r: r}
	br := bufio.NewReader(tr)
	var src io.Reader = br
	gz := false
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, classify(name, tr, fmt.Errorf("gzip: %w", err))
		}
		defer zr.Close()
		src, gz = zr, true
	} else if tr.err != nil {
		return nil, fmt.Errorf("mnist: reading %s: %w", name, tr.err)
	}
	idx, err := parseIDX(src, gz)
	if err != nil {
		return nil, classify(name, tr, err)
	}
	return idx, nil
}

var (
	errTruncated = errors.New("truncated")
	errHeader    = errors.New("invalid header")
)

// streamErr describes an error returned by the input stream itself (rather
// than a content check); for gzip input it is the decompressor's verdict.
func streamErr(gz bool, what string, err error) error {
	if gz {
		return fmt.Errorf("gzip: reading %s: %w", what, err)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// classify turns a parse failure into an error naming the file: an I/O error
// of the underlying reader is reported as such, anything else is ErrFormat.
func classify(name string, tr *trackReader, err error) error {
	if tr.err != nil {
		return fmt.Errorf("mnist: reading %s: %w", name, tr.err)
	}
	return fmt.Errorf("%w: %s: %w", ErrFormat, name, err)
}

func parseIDX(r io.Reader, gz bool) (*IDX, error) {
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, readErr(gz, "magic number", 4, n, err)
	}
	m := binary.BigEndian.Uint32(magic[:])
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("%w: bad magic number 0x%08x (not an IDX file)", errHeader, m)
	}
	if magic[2] != idxTypeUByte {
		return nil, fmt.Errorf("%w: magic number 0x%08x: data type 0x%02x, want 0x%02x (unsigned byte)", errHeader, m, magic[2], idxTypeUByte)
	}
	ndims := int(magic[3])
	if ndims == 0 {
		return nil, fmt.Errorf("%w: magic number 0x%08x declares 0 dimensions", errHeader, m)
	}
	hdr := make([]byte, 4*ndims)
	if n, err := io.ReadFull(r, hdr); err != nil {
		return nil, readErr(gz, "dimensions", len(hdr), n, err)
	}
	dims := make([]int, ndims)
	size := 1
	for i := range dims {
		d := binary.BigEndian.Uint32(hdr[4*i:])
		if d > MaxIDXBytes {
			return nil, fmt.Errorf("%w: dimension %d is %d, larger than the %d-byte limit", errHeader, i, d, MaxIDXBytes)
		}
		dims[i] = int(d)
		if size != 0 && dims[i] > MaxIDXBytes/size {
			return nil, fmt.Errorf("%w: dimensions %v declare more than the %d-byte limit", errHeader, formatDims(hdr), MaxIDXBytes)
		}
		size *= dims[i]
	}
	data, err := readPayload(r, size, gz)
	if err != nil {
		return nil, err
	}
	// Reading to EOF also makes gzip verify its CRC-32 and size trailer.
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	if n > 0 {
		return nil, fmt.Errorf("trailing bytes after the %d-byte payload of dimensions %v", size, dims)
	}
	if err != io.EOF {
		return nil, streamErr(gz, "end of data", err)
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// formatDims renders the raw big-endian dimensions of an IDX header.
func formatDims(hdr []byte) []uint32 {
	out := make([]uint32, len(hdr)/4)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(hdr[4*i:])
	}
	return out
}

// readErr describes a short read of a header field.
func readErr(gz bool, what string, want, got int, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: %s: want %d bytes, got %d", errTruncated, what, want, got)
	}
	return streamErr(gz, what, err)
}

// readPayload reads exactly size bytes, growing its buffer only as data arrives.
func readPayload(r io.Reader, size int, gz bool) ([]byte, error) {
	buf := make([]byte, 0, min(size, initialChunk))
	for len(buf) < size {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(size, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return nil, readErr(gz, "payload", size, len(buf), err)
		}
	}
	return buf, nil
}

// ParseImagesIDX decodes an MNIST images file (magic 0x00000803, dimensions
// N x 28 x 28), gzip-compressed or raw. It returns the image count and the
// N*28*28 pixels in row-major order.
func ParseImagesIDX(name string, r io.Reader) (n int, pixels []uint8, err error) {
	idx, err := ParseIDX(name, r)
	if err != nil {
		return 0, nil, err
	}
	if len(idx.Dims) != 3 {
		return 0, nil, fmt.Errorf("%w: %s: magic number 0x%08x: want images file 0x%08x (3 dimensions), got %d dimensions", ErrFormat, name, idxTypeUByte<<8|len(idx.Dims), ImagesMagic, len(idx.Dims))
	}
	if idx.Dims[1] != Rows || idx.Dims[2] != Cols {
		return 0, nil, fmt.Errorf("%w: %s: images are %dx%d, want %dx%d", ErrFormat, name, idx.Dims[1], idx.Dims[2], Rows, Cols)
	}
	return idx.Dims[0], idx.Data, nil
}

// ParseLabelsIDX decodes an MNIST labels file (magic 0x00000801, dimension N),
// gzip-compressed or raw, and checks that every label is in 0..9.
func ParseLabelsIDX(name string, r io.Reader) (labels []uint8, err error) {
	idx, err := ParseIDX(name, r)
	if err != nil {
		return nil, err
	}
	if len(idx.Dims) != 1 {
		return nil, fmt.Errorf("%w: %s: magic number 0x%08x: want labels file 0x%08x (1 dimension), got %d dimensions", ErrFormat, name, idxTypeUByte<<8|len(idx.Dims), LabelsMagic, len(idx.Dims))
	}
	for i, l := range idx.Data {
		if l >= NumClasses {
			return nil, fmt.Errorf("%w: %s: label %d is %d, want 0..%d", ErrFormat, name, i, l, NumClasses-1)
		}
	}
	return idx.Data, nil
}

// DecodeImages decodes a pair of MNIST images and labels files (each
// gzip-compressed or raw) into one split, checking that their counts agree.
// The names identify the inputs in error messages.
func DecodeImages(imagesName string, images io.Reader, labelsName string, labels io.Reader) (*Images, error) {
	n, pixels, err := ParseImagesIDX(imagesName, images)
	if err != nil {
		return nil, err
	}
	lbl, err := ParseLabelsIDX(labelsName, labels)
	if err != nil {
		return nil, err
	}
	return newImages(imagesName, n, pixels, labelsName, lbl)
}

// newImages pairs decoded images and labels, checking that the counts agree.
func newImages(imagesName string, n int, pixels []uint8, labelsName string, labels []uint8) (*Images, error) {
	if len(labels) != n {
		return nil, fmt.Errorf("%w: %s holds %d images but %s holds %d labels", ErrFormat, imagesName, n, labelsName, len(labels))
	}
	im := &Images{N: n, Rows: Rows, Cols: Cols, Pixels: pixels, Labels: labels}
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("%s, %s: %w", imagesName, labelsName, err)
	}
	return im, nil
}
