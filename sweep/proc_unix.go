//go:build unix

package sweep

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// processStart returns pid's start time from /proc/PID/stat (field 22, in clock ticks since
// boot), or "" where /proc is not available or the process is a zombie (dead, not yet reaped).
func processStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	// The command name (field 2) is in parentheses and may hold spaces: fields after the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return ""
	}
	return f[19] // field 22 of the whole line: fields 3.. start at f[0]
}

// alive reports whether process pid runs and, when start is known, is the process that
// started at start (and not another that reuses the pid).
func alive(pid int, start string) bool {
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		cur := processStart(pid)
		if cur == "" {
			return false
		}
		return start == "" || cur == start
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// cpuSeconds returns the CPU time (user and system) this process has used, or ok=false.
func cpuSeconds() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), true
}
