package loop

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestPeakRSSPerRun checks that a run's peak memory does not include an earlier, larger peak of
// the process: startRSS resets VmHWM where Linux allows it.
func TestPeakRSSPerRun(t *testing.T) {
	if peakRSS() == 0 || !resetPeakRSS() {
		t.Skip("no /proc/self/status VmHWM or no /proc/self/clear_refs reset here")
	}
	const big = 128 << 20
	func() {
		b := make([]byte, big)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		runtime.KeepAlive(b)
	}()
	high := peakRSS()
	runtime.GC()
	debug.FreeOSMemory()
	end := startRSS()
	small := end()
	t.Logf("peak with a %d MiB allocation %d MiB; after reset %d MiB", big>>20, high>>20, small>>20)
	if small <= 0 || small > high-big/2 {
		t.Fatalf("peak after the reset %d bytes, want well under the earlier peak %d", small, high)
	}
}
