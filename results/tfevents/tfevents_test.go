package tfevents

import (
	"hash/crc32"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCRC: CRC-32C's check value (RFC 3720: "123456789" -> 0xE3069283), and TFRecord's mask
// ((crc >> 15) | (crc << 17)) + 0xa282ead8 of it, by hand.
func TestCRC(t *testing.T) {
	if c := crc32.Checksum([]byte("123456789"), castagnoli); c != 0xE3069283 {
		t.Fatalf("crc32c = %#x", c)
	}
	c := uint32(0xE3069283)
	if got, want := maskedCRC([]byte("123456789")), ((c>>15)|(c<<17))+0xa282ead8; got != want {
		t.Errorf("masked %#x, want %#x", got, want)
	}
}

// TestRoundTrip: the file version, scalar events and a session start come back from the file
// as written, every record's CRCs checked; a flipped byte is caught.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 3, 8, 0, 0, 500e6, time.UTC)
	w, err := Create(dir, "test", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.Path(), dir+"/events.out.tfevents.") {
		t.Errorf("file %s", w.Path())
	}
	if err := w.Scalars(10, now, []string{"train/loss", "train/penalty"}, []float32{0.5, 0.25}); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(7, now); err != nil {
		t.Fatal(err)
	}
	if err := w.Scalars(1<<40, now, []string{"eval/ACC"}, []float32{0.875}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	evs, err := Read(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || evs[0].FileVersion != FileVersion || evs[0].Wall != 1796284800.5 {
		t.Fatalf("events %+v", evs)
	}
	if evs[1].Step != 10 || evs[1].Values["train/loss"] != 0.5 || evs[1].Values["train/penalty"] != 0.25 {
		t.Errorf("scalar event %+v", evs[1])
	}
	if !evs[2].SessionStart || evs[2].Step != 7 {
		t.Errorf("session start %+v", evs[2])
	}
	if evs[3].Step != 1<<40 || evs[3].Values["eval/ACC"] != 0.875 {
		t.Errorf("last event %+v", evs[3])
	}
	if got := Tags(evs); strings.Join(got, " ") != "eval/ACC train/loss train/penalty" {
		t.Errorf("tags %v", got)
	}
	data, _ := os.ReadFile(w.Path())
	data[len(data)-6] ^= 1
	os.WriteFile(w.Path(), data, 0o644)
	if _, err := Read(w.Path()); err == nil || !strings.Contains(err.Error(), "CRC") {
		t.Errorf("a flipped byte: error %v", err)
	}
	// A second file in the same second gets its own name.
	w2, err := Create(dir, "test", now)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if w2.Path() == w.Path() {
		t.Error("two files of one second share a name")
	}
}
