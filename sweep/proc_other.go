//go:build !unix

package sweep

// processStart is unknown on this platform.
func processStart(pid int) string { return "" }

// alive cannot tell on this platform, so a lock of this host is judged by its age alone.
func alive(pid int, start string) bool { return true }

// cpuSeconds is unknown on this platform: calibration times wall time.
func cpuSeconds() (float64, bool) { return 0, false }
