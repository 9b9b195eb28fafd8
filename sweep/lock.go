package sweep

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrLocked is wrapped by TryLock's error when a live process holds the lock.
var ErrLocked = errors.New("sweep: locked by another process")

// ErrLockLost is returned by Lock.Refresh when the lock file is no longer the holder's (it was
// judged stale and taken over).
var ErrLockLost = errors.New("sweep: lock lost")

// Owner identifies a lock holder; it is the content of a lock file.
type Owner struct {
	// Host is the holder's host name.
	Host string `json:"host"`
	// PID is the holder's process id.
	PID int `json:"pid"`
	// PIDStart is the process's start time as the OS reports it (Linux: /proc/PID/stat field
	// 22), to tell a reused pid from the holder; empty where unknown.
	PIDStart string `json:"pid_start,omitempty"`
	// Shard is the holder's shard, "i/N".
	Shard string `json:"shard"`
	// Token is random and unique to one acquisition.
	Token string `json:"token"`
	// Since is when the lock was taken.
	Since time.Time `json:"since"`
}

// Self returns this process's Owner for shard (the token is filled by TryLock).
func Self(shard string) Owner {
	host, _ := os.Hostname()
	return Owner{Host: host, PID: os.Getpid(), PIDStart: processStart(os.Getpid()), Shard: shard}
}

// LockedError is returned (wrapping ErrLocked) when a live process holds a lock.
type LockedError struct {
	// Path is the lock file.
	Path string
	// Holder is the lock file's content; zero when it could not be read.
	Holder Owner
}

// Error names the lock file and its holder.
func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is held by %s pid %d (shard %s) since %s", e.Path, e.Holder.Host, e.Holder.PID, e.Holder.Shard, e.Holder.Since.Format(time.RFC3339))
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock is a held lock file.
type Lock struct {
	path  string
	owner Owner
	data  []byte
	mu    sync.Mutex
	done  bool
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// Owner returns the lock's content.
func (l *Lock) Owner() Owner { return l.owner }

// breakStale is how old a cell.lock.break file must be to be removed as left by a dead process.
const breakStale = time.Minute

// unparsedStale is how old a lock file that cannot be read as an Owner must be to be stale.
const unparsedStale = 30 * time.Second

// TryLock takes the lock file path for o, exclusively. When the file exists and its holder is
// alive it returns a *LockedError (wrapping ErrLocked). A stale lock — its holder on this host
// and dead, or the file untouched for staleAfter — is removed and the lock taken.
func TryLock(path string, o Owner, staleAfter time.Duration) (*Lock, error) {
	var tok [12]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	o.Token = hex.EncodeToString(tok[:])
	o.Since = time.Now().UTC()
	data, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	for attempt := 0; attempt < 4; attempt++ {
		err := createExclusive(path, data)
		if err == nil {
			return &Lock{path: path, owner: o, data: data}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("sweep: locking %s: %w", path, err)
		}
		cur, holder, stale, err := inspect(path, staleAfter)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("sweep: reading lock %s: %w", path, err)
		}
		if !stale {
			return nil, &LockedError{Path: path, Holder: holder}
		}
		if err := breakLock(path, cur, o); err != nil {
			return nil, err
		}
	}
	return nil, &LockedError{Path: path}
}

// inspect reads a lock file and judges whether it is stale.
//
// The age and the content come from the same open file: a stat of the path and a read of it
// could see two files (an old lock's age, a new lock's content), and a fresh lock judged stale
// by the old one's age would be broken, letting two holders in.
func inspect(path string, staleAfter time.Duration) (data []byte, holder Owner, stale bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, holder, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, holder, false, err
	}
	data, err = io.ReadAll(f)
	if err != nil {
		return nil, holder, false, err
	}
	age := time.Since(st.ModTime())
	if json.Unmarshal(data, &holder) != nil || holder.Token == "" {
		// Being written (O_EXCL fallback) or left half-written by a crash.
		return data, holder, age > unparsedStale, nil
	}
	if age > staleAfter {
		return data, holder, true, nil
	}
	if host, _ := os.Hostname(); holder.Host == host && holder.PID > 0 {
		return data, holder, !alive(holder.PID, holder.PIDStart), nil
	}
	return data, holder, false, nil
}

// breakLock removes the stale lock file whose content was seen, under path+".break", after
// checking that the file still has that content (another process may have broken it and
// locked anew meanwhile). It returns nil when the caller should try to lock again.
func breakLock(path string, seen []byte, o Owner) error {
	brk := path + ".break"
	bdata, _ := json.Marshal(o)
	if err := createExclusive(brk, bdata); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("sweep: breaking stale lock %s: %w", path, err)
		}
		// Someone else is breaking it; a breaker left by a dead process goes after a while.
		if _, holder, stale, err := inspect(brk, breakStale); err == nil && stale {
			os.Remove(brk)
			return nil
		} else if err == nil {
			return &LockedError{Path: path, Holder: holder}
		}
		return nil
	}
	defer os.Remove(brk)
	cur, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep: breaking stale lock %s: %w", path, err)
	}
	if !bytes.Equal(cur, seen) {
		return nil // replaced meanwhile: look again
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sweep: removing stale lock %s: %w", path, err)
	}
	return nil
}

// Refresh touches the lock file so other hosts see the holder alive. It returns ErrLockLost
// when the file is gone or is another holder's, and other errors (a file system hiccup) as they
// are.
func (l *Lock) Refresh() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return ErrLockLost
	}
	cur, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !bytes.Equal(cur, l.data)) {
		return ErrLockLost
	}
	if err != nil {
		return err // a passing file system error: the lock may well still be ours
	}
	now := time.Now()
	return os.Chtimes(l.path, now, now)
}

// Release removes the lock file if it is still the holder's.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	l.done = true
	cur, err := os.ReadFile(l.path)
	if err != nil || !bytes.Equal(cur, l.data) {
		return ErrLockLost
	}
	return os.Remove(l.path)
}

// createExclusive creates path with data, failing with an error wrapping fs.ErrExist when it
// exists. It writes a temporary file and hard-links it to path, so the file appears complete
// (link is atomic, also on NFS); where hard links are not supported it falls back to
// O_CREATE|O_EXCL and a write.
func createExclusive(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name)
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	lerr := os.Link(name, path)
	if lerr == nil || errors.Is(lerr, fs.ErrExist) {
		return lerr
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
