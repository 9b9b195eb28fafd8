package mnist

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseIDXGood(t *testing.T) {
	img := synthImages(3, 5)
	lbl := synthLabels(3, 0)
	for _, tc := range []struct {
		name     string
		img, lbl []byte
	}{
		{"raw", img, lbl},
		{"gzip", gzipBytes(img), gzipBytes(lbl)},
		{"mixed", gzipBytes(img), lbl},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := DecodeImages("img", bytes.NewReader(tc.img), "lbl", bytes.NewReader(tc.lbl))
			if err != nil {
				t.Fatal(err)
			}
			if im.N != 3 || im.Rows != 28 || im.Cols != 28 || len(im.Pixels) != 3*784 || len(im.Labels) != 3 {
				t.Fatalf("got N=%d %dx%d, %d pixels, %d labels", im.N, im.Rows, im.Cols, len(im.Pixels), len(im.Labels))
			}
			if !bytes.Equal(im.Pixels, img[16:]) || !bytes.Equal(im.Labels, []byte{0, 1, 2}) {
				t.Fatal("decoded data differs from the input payload")
			}
			if !bytes.Equal(im.Image(2), img[16+2*784:]) {
				t.Fatal("Image(2) is not the third image")
			}
			if got := im.LabelCounts(); got != [NumClasses]int{1, 1, 1} {
				t.Fatalf("LabelCounts = %v", got)
			}
		})
	}

	// Generic IDX with another shape, and an empty payload.
	idx, err := ParseIDX("x", bytes.NewReader(idxBytes(0x00000802, []uint32{2, 3}, []byte{1, 2, 3, 4, 5, 6})))
	if err != nil || len(idx.Dims) != 2 || idx.Dims[0] != 2 || idx.Dims[1] != 3 || len(idx.Data) != 6 {
		t.Fatalf("2-D IDX: %+v, %v", idx, err)
	}
	if idx, err := ParseIDX("x", bytes.NewReader(idxBytes(LabelsMagic, []uint32{0}, nil))); err != nil || len(idx.Data) != 0 {
		t.Fatalf("empty IDX: %+v, %v", idx, err)
	}
}

func TestParseIDXErrors(t *testing.T) {
	img := synthImages(2, 0)
	lbl := synthLabels(2, 0)
	gzImg := gzipBytes(img)
	corruptCRC := bytes.Clone(gzImg)
	corruptCRC[len(corruptCRC)-6] ^= 0xff // inside the CRC-32 trailer
	corruptBody := bytes.Clone(gzImg)
	corruptBody[len(corruptBody)/2] ^= 0xff
	badLabel := synthLabels(2, 0)
	badLabel[len(badLabel)-1] = 10

	for _, tc := range []struct {
		name     string
		img, lbl []byte
		want     string // substring of the error
		file     string // file the error must name
	}{
		{"empty images", nil, lbl, "magic number: want 4 bytes, got 0", "img.idx"},
		{"short magic", img[:3], lbl, "magic number: want 4 bytes, got 3", "img.idx"},
		{"bad magic", idxBytes(0x12345678, nil, nil), lbl, "bad magic number 0x12345678", "img.idx"},
		{"bad data type", idxBytes(0x00000903, []uint32{2, 28, 28}, img[16:]), lbl, "data type 0x09", "img.idx"},
		{"zero dims", idxBytes(0x00000800, nil, nil), lbl, "0 dimensions", "img.idx"},
		{"labels as images", lbl, lbl, "want images file 0x00000803", "img.idx"},
		{"images as labels", img, img, "want labels file 0x00000801", "lbl.idx"},
		{"wrong image size", idxBytes(ImagesMagic, []uint32{1, 27, 28}, make([]byte, 27*28)), lbl, "images are 27x28", "img.idx"},
		{"truncated header", img[:10], lbl, "dimensions: want 12 bytes, got 6", "img.idx"},
		{"truncated payload", img[:len(img)-1], lbl, "payload: want 1568 bytes, got 1567", "img.idx"},
		{"trailing bytes", append(bytes.Clone(img), 0), lbl, "trailing bytes", "img.idx"},
		{"truncated labels", img, lbl[:len(lbl)-1], "payload: want 2 bytes, got 1", "lbl.idx"},
		{"gzip truncated payload", gzipBytes(img[:len(img)-1]), lbl, "payload: want 1568 bytes, got 1567", "img.idx"},
		{"gzip trailing bytes", gzipBytes(append(bytes.Clone(img), 1, 2)), lbl, "trailing bytes", "img.idx"},
		{"gzip cut short", gzImg[:len(gzImg)-3], lbl, "unexpected EOF", "img.idx"},
		{"gzip bad crc", corruptCRC, lbl, "gzip", "img.idx"},
		{"gzip corrupt body", corruptBody, lbl, "img.idx", "img.idx"},
		{"gzip bad header", []byte{0x1f, 0x8b, 0, 0, 1, 2, 3}, lbl, "gzip", "img.idx"},
		{"gzip magic only", []byte{0x1f, 0x8b}, lbl, "gzip", "img.idx"},
		{"gzip garbage after stream", append(bytes.Clone(gzImg), 0xde, 0xad), lbl, "gzip", "img.idx"},
		{"count mismatch", img, synthLabels(3, 0), "holds 2 images but lbl.idx holds 3 labels", "img.idx"},
		{"label out of range", img, badLabel, "label 1 is 10, want 0..9", "lbl.idx"},
		{"huge dims", idxBytes(ImagesMagic, []uint32{0xffffffff, 28, 28}, nil), lbl, "larger than the", "img.idx"},
		{"huge product", idxBytes(ImagesMagic, []uint32{200000, 28, 28}, nil), lbl, "declare more than the", "img.idx"},
		{"huge product gzip", gzipBytes(idxBytes(ImagesMagic, []uint32{200000, 28, 28}, nil)), lbl, "declare more than the", "img.idx"},
		{"many dims", idxBytes(0x000008ff, make([]uint32, 255), nil), lbl, "want images file", "img.idx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := DecodeImages("img.idx", bytes.NewReader(tc.img), "lbl.idx", bytes.NewReader(tc.lbl))
			if err == nil {
				t.Fatalf("no error, got %d images", im.N)
			}
			t.Log(err)
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %q is not ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error %q does not contain %q and %q", err, tc.want, tc.file)
			}
			if !strings.HasPrefix(err.Error(), "mnist: ") {
				t.Errorf("error %q lacks the mnist: prefix", err)
			}
		})
	}
}

func TestParseIDXReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, r := range []io.Reader{
		iotest.ErrReader(boom),
		io.MultiReader(bytes.NewReader(synthImages(1, 0)[:100]), iotest.ErrReader(boom)),
		io.MultiReader(bytes.NewReader(gzipBytes(synthImages(1, 0))[:30]), iotest.ErrReader(boom)),
	} {
		_, err := ParseIDX("f.idx", r)
		if !errors.Is(err, boom) || errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "f.idx") {
			t.Errorf("got %v, want an I/O error naming f.idx", err)
		}
	}
}

func TestValidate(t *testing.T) {
	good := &Images{N: 1, Rows: 2, Cols: 2, Pixels: make([]byte, 4), Labels: []byte{9}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, im := range []*Images{
		nil,
		{N: -1},
		{N: 1, Rows: 2, Cols: 2, Pixels: make([]byte, 3), Labels: []byte{1}},
		{N: 1, Rows: 2, Cols: 2, Pixels: make([]byte, 4)},
		{N: 1, Rows: 2, Cols: 2, Pixels: make([]byte, 4), Labels: []byte{10}},
		{N: 1 << 40, Rows: 1 << 20, Cols: 1 << 20},
	} {
		if err := im.Validate(); !errors.Is(err, ErrFormat) {
			t.Errorf("Validate(%+v) = %v, want ErrFormat", im, err)
		}
	}
}

func FuzzParseIDX(f *testing.F) {
	img := synthImages(2, 3)
	lbl := synthLabels(2, 4)
	for _, b := range [][]byte{
		img, lbl, gzipBytes(img), gzipBytes(lbl),
		idxBytes(0x00000802, []uint32{2, 3}, []byte{1, 2, 3, 4, 5, 6}),
		img[:20], gzipBytes(img)[:25], nil,
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIDX("fuzz.idx", bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "fuzz.idx") {
				t.Fatalf("in-memory input gave a non-format error or one not naming the file: %v", err)
			}
		} else {
			size := 1
			for _, d := range idx.Dims {
				if d < 0 {
					t.Fatalf("negative dimension in %v", idx.Dims)
				}
				size *= d
			}
			if len(idx.Dims) == 0 || len(idx.Dims) > 255 || size != len(idx.Data) || size > MaxIDXBytes {
				t.Fatalf("dims %v but %d data bytes", idx.Dims, len(idx.Data))
			}
			// Re-encoding the result as raw IDX must parse to the same thing.
			dims := make([]uint32, len(idx.Dims))
			for i, d := range idx.Dims {
				dims[i] = uint32(d)
			}
			again, err := ParseIDX("again", bytes.NewReader(idxBytes(0x0800|uint32(len(dims)), dims, idx.Data)))
			if err != nil || !bytes.Equal(again.Data, idx.Data) || len(again.Dims) != len(idx.Dims) {
				t.Fatalf("re-encoded IDX does not round-trip: %v", err)
			}
		}

		n, px, err := ParseImagesIDX("fuzz.idx", bytes.NewReader(data))
		if err == nil && (n < 0 || len(px) != n*Rows*Cols) {
			t.Fatalf("images: n=%d but %d pixels", n, len(px))
		}
		if err == nil && idx == nil {
			t.Fatal("ParseImagesIDX succeeded where ParseIDX failed")
		}
		labels, err := ParseLabelsIDX("fuzz.idx", bytes.NewReader(data))
		if err == nil {
			for _, l := range labels {
				if l >= NumClasses {
					t.Fatalf("label %d accepted", l)
				}
			}
		}
		// An images file and a labels file in one input: split it in two.
		half := len(data) / 2
		im, err := DecodeImages("a", bytes.NewReader(data[:half]), "b", bytes.NewReader(data[half:]))
		if err == nil {
			if err := im.Validate(); err != nil {
				t.Fatalf("DecodeImages returned invalid Images: %v", err)
			}
		} else if !errors.Is(err, ErrFormat) {
			t.Fatalf("DecodeImages: non-format error %v", err)
		}
	})
}
