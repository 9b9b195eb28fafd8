package mnist

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// mirror serves files by base name under /mnist/ and counts requests.
type mirror struct {
	srv   *httptest.Server
	hits  atomic.Int64
	files map[string][]byte
}

func newMirror(t *testing.T, files map[string][]byte) *mirror {
	t.Helper()
	m := &mirror{files: files}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.hits.Add(1)
		b, ok := m.files[path.Base(r.URL.Path)]
		if !ok || !strings.HasPrefix(r.URL.Path, "/mnist/") {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *mirror) url() string { return m.srv.URL + "/mnist/" }

// deadServer returns the URL of a server that no longer listens.
func deadServer(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/mnist/"
	srv.Close()
	return u
}

func TestHTTPGoodMirror(t *testing.T) {
	s := newSynthSet()
	m := newMirror(t, s.gz)
	cache := filepath.Join(t.TempDir(), "cache")
	opts := Options{Sources: []string{SourceHTTP}, Mirrors: []string{m.url()}, CacheDir: cache, HTTPClient: m.srv.Client(), files: s.files}
	set, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if set.Train.N != 30 || set.Test.N != 12 {
		t.Fatalf("N = %d, %d", set.Train.N, set.Test.N)
	}
	if !strings.HasPrefix(set.Source, "http cache: "+cache) || !strings.Contains(set.Source, m.url()) {
		t.Errorf("Source = %q", set.Source)
	}
	got := listDir(t, cache)
	if len(got) != 4 {
		t.Fatalf("cache holds %v, want the 4 files only", got)
	}
	for _, f := range s.files {
		b, err := os.ReadFile(filepath.Join(cache, f.Name))
		if err != nil || !bytes.Equal(b, s.gz[f.Name]) {
			t.Errorf("cached %s differs from the served file (%v)", f.Name, err)
		}
	}
	// A second load is served from the cache, without any request.
	hits := m.hits.Load()
	m.srv.Close()
	set, err = Load(context.Background(), opts)
	if err != nil || set.Train.N != 30 {
		t.Fatalf("from cache: %v", err)
	}
	if m.hits.Load() != hits {
		t.Errorf("second load made %d requests", m.hits.Load()-hits)
	}
}

func TestHTTPRealFiles(t *testing.T) {
	dir := realDataDir(t)
	files := map[string][]byte{}
	for _, f := range canonicalFiles {
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = b
	}
	m := newMirror(t, files)
	set, err := Load(context.Background(), Options{Sources: []string{SourceHTTP}, Mirrors: []string{m.url()}, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkReal(t, set)
}

func TestHTTPCorruptMirror(t *testing.T) {
	s := newSynthSet()
	bad := map[string][]byte{}
	for name, b := range s.gz {
		b = bytes.Clone(b)
		b[len(b)/2] ^= 0x40
		bad[name] = b
	}
	m := newMirror(t, bad)
	cache := t.TempDir()
	_, err := Load(context.Background(), Options{Sources: []string{SourceHTTP}, Mirrors: []string{m.url()}, CacheDir: cache, files: s.files})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), TrainImagesFile) || !strings.Contains(err.Error(), s.files[0].SHA256) {
		t.Fatalf("got %v, want ErrChecksum naming %s", err, TrainImagesFile)
	}
	if got := listDir(t, cache); len(got) != 0 {
		t.Fatalf("cache not empty after a failed download: %v", got)
	}

	// Without checksums, unparsable downloads are rejected just the same.
	_, err = Load(context.Background(), Options{Sources: []string{SourceHTTP}, Mirrors: []string{m.url()}, CacheDir: cache, SkipChecksum: true})
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("SkipChecksum: got %v, want ErrFormat", err)
	}
	if got := listDir(t, cache); len(got) != 0 {
		t.Fatalf("cache not empty after a failed download: %v", got)
	}
}

func TestHTTPDeadThenGood(t *testing.T) {
	s := newSynthSet()
	good := newMirror(t, s.gz)
	missing := newMirror(t, nil) // answers 404
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer failing.Close()
	cache := t.TempDir()
	mirrors := []string{deadServer(t), missing.url(), failing.URL, good.url()}
	set, err := Load(context.Background(), Options{Sources: []string{SourceHTTP}, Mirrors: mirrors, CacheDir: cache, files: s.files})
	if err != nil {
		t.Fatal(err)
	}
	if set.Test.N != 12 || !strings.Contains(set.Source, good.url()) || strings.Contains(set.Source, missing.url()) {
		t.Errorf("N=%d Source=%q", set.Test.N, set.Source)
	}
	if got := listDir(t, cache); len(got) != 4 {
		t.Errorf("cache holds %v", got)
	}

	// All mirrors bad: one line naming each attempt.
	_, err = Load(context.Background(), Options{Sources: []string{SourceHTTP}, Mirrors: mirrors[:3], CacheDir: t.TempDir(), files: s.files})
	if err == nil || strings.Count(err.Error(), "\n") != 1 || !strings.Contains(err.Error(), "404 Not Found") ||
		!strings.Contains(err.Error(), "500 Internal Server Error") || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("got %v", err)
	}
}

func TestHTTPDecompressedMirror(t *testing.T) {
	// A server that hands out the decompressed bytes: kept under the raw name
	// and verified against the decompressed checksum.
	s := newSynthSet()
	raw := map[string][]byte{}
	for _, f := range s.files {
		raw[f.Name] = s.raw[f.RawName()]
	}
	m := newMirror(t, raw)
	cache := t.TempDir()
	set, err := Load(context.Background(), Options{Sources: []string{SourceHTTP}, Mirrors: []string{m.url()}, CacheDir: cache, files: s.files})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := set.Files["train-images-idx3-ubyte"]; !ok || set.Train.N != 30 {
		t.Errorf("Files = %v", set.Files)
	}
}

func TestHTTPCancel(t *testing.T) {
	s := newSynthSet()
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer stall.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Load(ctx, Options{Sources: []string{SourceHTTP}, Mirrors: []string{stall.URL, stall.URL}, CacheDir: t.TempDir(), files: s.files})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
}
