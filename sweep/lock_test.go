package sweep

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func writeOwner(t *testing.T, path string, o Owner, age time.Duration) {
	t.Helper()
	data, _ := json.Marshal(o)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-age)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

func TestLockExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFile)
	a, err := TryLock(path, Self("0/2"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = TryLock(path, Self("1/2"), time.Minute)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Holder.Shard != "0/2" || le.Holder.Token != a.Owner().Token {
		t.Fatalf("second lock: %v", err)
	}
	if err := a.Refresh(); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	b, err := TryLock(path, Self("1/2"), time.Minute)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Release()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("lock file left: %v", err)
	}
}

func TestLockStale(t *testing.T) {
	dir := t.TempDir()
	host, _ := os.Hostname()
	me := Self("0/1")
	for _, tc := range []struct {
		name   string
		owner  Owner
		age    time.Duration
		raw    string // file content instead of owner
		stale  bool
		reason string
	}{
		{"dead pid on this host", Owner{Host: host, PID: deadPID(t), Token: "t1"}, 0, "", true, ""},
		{"reused pid on this host", Owner{Host: host, PID: os.Getpid(), PIDStart: "1", Token: "t2"}, 0, "", me.PIDStart != "", ""},
		{"live pid on this host", Owner{Host: host, PID: os.Getpid(), PIDStart: me.PIDStart, Token: "t3"}, 0, "", false, ""},
		{"other host, fresh", Owner{Host: "elsewhere", PID: 1, Token: "t4"}, time.Second, "", false, ""},
		{"other host, untouched", Owner{Host: "elsewhere", PID: 1, Token: "t5"}, 2 * time.Minute, "", true, ""},
		{"half-written, young", Owner{}, time.Second, "", false, ""},
		{"half-written, old", Owner{}, time.Hour, "", true, ""},
	} {
		path := filepath.Join(dir, tc.name+".lock")
		writeOwner(t, path, tc.owner, tc.age)
		if tc.owner.Token == "" {
			os.WriteFile(path, []byte(`{"host":`), 0o644)
			old := time.Now().Add(-tc.age)
			os.Chtimes(path, old, old)
		}
		l, err := TryLock(path, me, time.Minute)
		if tc.stale {
			if err != nil {
				t.Errorf("%s: not taken over: %v", tc.name, err)
				continue
			}
			if l.Owner().Token == tc.owner.Token {
				t.Errorf("%s: token kept", tc.name)
			}
			if _, err := os.Stat(path + ".break"); !os.IsNotExist(err) {
				t.Errorf("%s: breaker left behind", tc.name)
			}
			l.Release()
		} else if !errors.Is(err, ErrLocked) {
			t.Errorf("%s: want ErrLocked, got %v", tc.name, err)
		}
	}
}

func TestLockLost(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFile)
	a, err := TryLock(path, Self("0/1"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Another host judged it stale and took it over.
	writeOwner(t, path, Owner{Host: "elsewhere", PID: 9, Token: "theirs"}, 0)
	if err := a.Refresh(); !errors.Is(err, ErrLockLost) {
		t.Errorf("refresh after takeover: %v", err)
	}
	a.Release()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("release removed the other holder's lock: %v", err)
	}
}

// TestLockMutualExclusion has goroutines compete for one lock; at most one may hold it.
func TestLockMutualExclusion(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFile)
	var holders, max, got atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				l, err := TryLock(path, Self("x"), time.Minute)
				if errors.Is(err, ErrLocked) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				n := holders.Add(1)
				if n > max.Load() {
					max.Store(n)
				}
				got.Add(1)
				time.Sleep(100 * time.Microsecond)
				holders.Add(-1)
				if err := l.Release(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if max.Load() != 1 || got.Load() == 0 {
		t.Errorf("max holders %d, acquisitions %d", max.Load(), got.Load())
	}
}

// TestStaleLockRace has goroutines break the same stale lock at once; exactly one gets it.
func TestStaleLockRace(t *testing.T) {
	for round := 0; round < 20; round++ {
		path := filepath.Join(t.TempDir(), LockFile)
		writeOwner(t, path, Owner{Host: "elsewhere", PID: 1, Token: "old"}, time.Hour)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for g := 0; g < 6; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := TryLock(path, Self("x"), time.Minute); err == nil {
					wins.Add(1)
				} else if !errors.Is(err, ErrLocked) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d goroutines took the stale lock", round, wins.Load())
		}
	}
}
