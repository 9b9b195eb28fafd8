package mnist

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// idxBytes builds a raw IDX file from a magic number, dimensions and payload.
func idxBytes(magic uint32, dims []uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, payload...)
}

// gzipBytes compresses b.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// synthImages returns a raw IDX images file of n deterministic 28x28 images.
func synthImages(n int, seed byte) []byte {
	px := make([]byte, n*Rows*Cols)
	for i := range px {
		px[i] = byte(i*7) + seed
	}
	return idxBytes(ImagesMagic, []uint32{uint32(n), Rows, Cols}, px)
}

// synthLabels returns a raw IDX labels file of n labels cycling through 0..9.
func synthLabels(n int, seed byte) []byte {
	l := make([]byte, n)
	for i := range l {
		l[i] = byte((i + int(seed)) % NumClasses)
	}
	return idxBytes(LabelsMagic, []uint32{uint32(n)}, l)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// synthSet is a small synthetic dataset in the canonical layout.
type synthSet struct {
	files []CanonicalFile // checksums of the synthetic files, canonical names
	raw   map[string][]byte
	gz    map[string][]byte // keyed by .gz name
}

func newSynthSet() *synthSet {
	s := &synthSet{raw: map[string][]byte{}, gz: map[string][]byte{}}
	contents := [][]byte{synthImages(30, 1), synthLabels(30, 1), synthImages(12, 2), synthLabels(12, 2)}
	for i, f := range canonicalFiles {
		raw := contents[i]
		gz := gzipBytes(raw)
		s.raw[f.RawName()] = raw
		s.gz[f.Name] = gz
		s.files = append(s.files, CanonicalFile{
			Name: f.Name, SHA256: sha(gz), RawSHA256: sha(raw), RawSize: int64(len(raw)),
		})
	}
	return s
}

// write stores the set in dir, compressed or not.
func (s *synthSet) write(t *testing.T, dir string, gz bool) {
	t.Helper()
	m := s.raw
	if gz {
		m = s.gz
	}
	for name, b := range m {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// realDataDir returns the GoMNIST data folder in the module cache, or skips.
// It never downloads.
func realDataDir(t testing.TB) string {
	t.Helper()
	cache, err := modCache(context.Background())
	if err != nil {
		t.Skipf("no module cache: %v", err)
	}
	path, version, local := moduleRef()
	dir := filepath.Join(cache, escapeModule(path)+"@"+escapeModule(version), "data")
	if local != "" {
		dir = filepath.Join(local, "data")
	}
	if !isDir(dir) {
		t.Skipf("GoMNIST data not in the module cache (%s)", dir)
	}
	return dir
}

// listDir returns the names of all entries in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
