package mnist

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Images is one split of MNIST: N images of Rows x Cols uint8 pixels and their labels.
type Images struct {
	// N is the number of images.
	N int
	// Rows and Cols are the height and width of every image (28 for MNIST).
	Rows, Cols int
	// Pixels holds N*Rows*Cols gray levels (0 = background), image after
	// image, each row-major.
	Pixels []uint8
	// Labels holds the N digit labels, each in 0..9.
	Labels []uint8
}

// Set is the whole dataset plus where it came from.
type Set struct {
	// Train is the 60,000-image training split, Test the 10,000-image test split.
	Train, Test *Images
	// Source is a human description of where the files were read, e.g.
	// "module cache: /root/go/pkg/mod/.../data".
	Source string
	// Files maps each file name read (e.g. "train-images-idx3-ubyte.gz") to
	// the SHA-256 (hex) of its bytes as stored.
	Files map[string]string
}

// Image returns the Rows*Cols pixels of image i, sharing im.Pixels.
// It panics if i is out of range, like a slice index.
func (im *Images) Image(i int) []uint8 {
	sz := im.Rows * im.Cols
	return im.Pixels[i*sz : (i+1)*sz : (i+1)*sz]
}

// LabelCounts returns how many images carry each label 0..9.
func (im *Images) LabelCounts() [NumClasses]int {
	var h [NumClasses]int
	for _, l := range im.Labels {
		if int(l) < NumClasses {
			h[l]++
		}
	}
	return h
}

// Validate reports an ErrFormat error unless im is self-consistent:
// non-negative sizes, len(Pixels) == N*Rows*Cols, len(Labels) == N and
// every label in 0..9.
func (im *Images) Validate() error {
	if im == nil {
		return fmt.Errorf("%w: nil Images", ErrFormat)
	}
	if im.N < 0 || im.Rows < 0 || im.Cols < 0 {
		return fmt.Errorf("%w: negative size %dx%dx%d", ErrFormat, im.N, im.Rows, im.Cols)
	}
	sz := im.Rows * im.Cols
	if im.Rows != 0 && sz/im.Rows != im.Cols || sz != 0 && im.N > MaxIDXBytes/sz {
		return fmt.Errorf("%w: size %dx%dx%d too large", ErrFormat, im.N, im.Rows, im.Cols)
	}
	if len(im.Pixels) != im.N*sz {
		return fmt.Errorf("%w: %d pixels, want %d for %d images of %dx%d", ErrFormat, len(im.Pixels), im.N*sz, im.N, im.Rows, im.Cols)
	}
	if len(im.Labels) != im.N {
		return fmt.Errorf("%w: %d labels for %d images", ErrFormat, len(im.Labels), im.N)
	}
	for i, l := range im.Labels {
		if l >= NumClasses {
			return fmt.Errorf("%w: label %d is %d, want 0..%d", ErrFormat, i, l, NumClasses-1)
		}
	}
	return nil
}

// Canonical file names of the MNIST distribution (gzip-compressed). A
// directory may hold either these or the uncompressed files, named the same
// without the ".gz" suffix.
const (
	TrainImagesFile = "train-images-idx3-ubyte.gz"
	TrainLabelsFile = "train-labels-idx1-ubyte.gz" // see TrainImagesFile
	TestImagesFile  = "t10k-images-idx3-ubyte.gz"  // see TrainImagesFile
	TestLabelsFile  = "t10k-labels-idx1-ubyte.gz"  // see TrainImagesFile
)

// CanonicalFile describes one file of the original MNIST distribution.
type CanonicalFile struct {
	// Name is the compressed file name, e.g. "train-images-idx3-ubyte.gz".
	Name string
	// SHA256 and MD5 are hex digests of the .gz file.
	SHA256, MD5 string
	// RawSHA256 is the hex SHA-256 of the decompressed IDX file, and RawSize
	// its length in bytes.
	RawSHA256 string
	RawSize   int64
}

// RawName is the name of the uncompressed file: Name without ".gz".
func (c CanonicalFile) RawName() string { return strings.TrimSuffix(c.Name, ".gz") }

// canonicalFiles lists the four files in the order train images, train
// labels, test images, test labels.
var canonicalFiles = []CanonicalFile{
	{
		Name:      TrainImagesFile,
		SHA256:    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
		MD5:       "f68b3c2dcbeaaa9fbdd348bbdeb94873",
		RawSHA256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
		RawSize:   47040016,
	},
	{
		Name:      TrainLabelsFile,
		SHA256:    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
		MD5:       "d53e105ee54ea40749a09fcbcd1e9432",
		RawSHA256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
		RawSize:   60008,
	},
	{
		Name:      TestImagesFile,
		SHA256:    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
		MD5:       "9fb629c4189551a2d022fa330f9573f3",
		RawSHA256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
		RawSize:   7840016,
	},
	{
		Name:      TestLabelsFile,
		SHA256:    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
		MD5:       "ec29112dd5afa0611ce80d1b7f02629c",
		RawSHA256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
		RawSize:   10008,
	},
}

// CanonicalFiles returns the four canonical MNIST files with their checksums,
// in the order train images, train labels, test images, test labels.
func CanonicalFiles() []CanonicalFile {
	return append([]CanonicalFile(nil), canonicalFiles...)
}

// maxFileBytes bounds the size of a file accepted from disk or the network:
// the payload limit plus room for the largest possible IDX header.
const maxFileBytes = MaxIDXBytes + 4 + 4*255

// LoadDir loads MNIST from dir, which must hold the four canonical files,
// each either gzip-compressed (preferred when both exist) or uncompressed.
// With verify, every file's SHA-256 must match the canonical value for its
// form (an ErrChecksum error naming the file otherwise); pass verify=false for
// custom datasets laid out the same way, such as Fashion-MNIST.
func LoadDir(dir string, verify bool) (*Set, error) {
	set, err := loadDir(dir, verify, canonicalFiles)
	if err != nil {
		return nil, err
	}
	set.Source = "dir: " + absPath(dir)
	return set, nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// locate finds the compressed or else the uncompressed form of f in dir.
func locate(dir string, f CanonicalFile) (path string, gz bool, err error) {
	for _, c := range []struct {
		name string
		gz   bool
	}{{f.Name, true}, {f.RawName(), false}} {
		p := filepath.Join(dir, c.name)
		st, err := os.Stat(p)
		if err == nil {
			if !st.Mode().IsRegular() {
				return "", false, fmt.Errorf("mnist: %s is not a regular file", p)
			}
			return p, c.gz, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("mnist: %w", err)
		}
	}
	return "", false, fmt.Errorf("mnist: neither %s nor %s found in %s", f.Name, f.RawName(), dir)
}

// expected returns the canonical digest for the form (compressed or not) of f.
func expected(f CanonicalFile, gz bool) string {
	if gz {
		return f.SHA256
	}
	return f.RawSHA256
}

// loaded is one file read by loadDir.
type loaded struct {
	name, sum string
	n         int // images: count
	data      []uint8
	err       error
}

// loadDir reads the four files of files (in canonicalFiles order) from dir,
// concurrently.
func loadDir(dir string, verify bool, files []CanonicalFile) (*Set, error) {
	if dir == "" {
		return nil, errors.New("mnist: empty directory name")
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("mnist: data directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("mnist: data directory %s is not a directory", dir)
	}
	res := make([]loaded, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() { res[i] = loadFile(dir, f, verify, i%2 == 0) })
	}
	wg.Wait()
	for i, r := range res {
		if r.err != nil {
			return nil, r.err
		}
		if len(r.data) == 0 {
			return nil, fmt.Errorf("%w: %s holds no %s", ErrFormat, r.name, map[bool]string{true: "images", false: "labels"}[i%2 == 0])
		}
	}
	train, err := newImages(res[0].name, res[0].n, res[0].data, res[1].name, res[1].data)
	if err != nil {
		return nil, err
	}
	test, err := newImages(res[2].name, res[2].n, res[2].data, res[3].name, res[3].data)
	if err != nil {
		return nil, err
	}
	set := &Set{Train: train, Test: test, Files: make(map[string]string, len(res))}
	for _, r := range res {
		set.Files[filepath.Base(r.name)] = r.sum
	}
	return set, nil
}

// loadFile hashes and (after checking the hash when verify) parses one file.
func loadFile(dir string, f CanonicalFile, verify, images bool) loaded {
	path, gz, err := locate(dir, f)
	if err != nil {
		return loaded{err: err}
	}
	r := loaded{name: path}
	fh, err := os.Open(path)
	if err != nil {
		r.err = fmt.Errorf("mnist: %w", err)
		return r
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(fh, maxFileBytes+1))
	if err != nil {
		r.err = fmt.Errorf("mnist: reading %s: %w", path, err)
		return r
	}
	if n > maxFileBytes {
		r.err = fmt.Errorf("%w: %s: larger than %d bytes", ErrFormat, path, maxFileBytes)
		return r
	}
	r.sum = hex.EncodeToString(h.Sum(nil))
	if want := expected(f, gz); verify && r.sum != want {
		r.err = fmt.Errorf("%w: %s: expected sha256 %s, got %s", ErrChecksum, path, want, r.sum)
		return r
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		r.err = fmt.Errorf("mnist: reading %s: %w", path, err)
		return r
	}
	if images {
		r.n, r.data, r.err = ParseImagesIDX(path, fh)
	} else {
		r.data, r.err = ParseLabelsIDX(path, fh)
	}
	return r
}
