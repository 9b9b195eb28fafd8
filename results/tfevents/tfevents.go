// Package tfevents writes and reads TensorBoard event files: TFRecord framing (a little-endian
// length, its masked CRC-32C, the record, its masked CRC-32C) around tensorflow.Event protocol
// buffers, encoded with google.golang.org/protobuf's wire format. It writes what clgraph logs:
// scalar summaries (Summary.Value.simple_value), the file version, and a SessionLog START on
// resume (TensorBoard then drops the events of later steps a crashed attempt wrote).
package tfevents

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// FileVersion is the version string of the first event of every file.
const FileVersion = "brain.Event:2"

// Field numbers of tensorflow.Event, Summary, Summary.Value and SessionLog.
const (
	eventWallTime   = 1 // double
	eventStep       = 2 // int64
	eventFileVer    = 3 // string
	eventSummary    = 5 // Summary
	eventSessionLog = 6 // SessionLog
	summaryValue    = 1 // repeated Value
	valueTag        = 1 // string
	valueSimple     = 2 // float
	sessionStatus   = 1 // enum: 1 START
	statusStart     = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC-32C of b.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// Writer appends events to one event file.
type Writer struct {
	f   *os.File
	w   *bufio.Writer
	rec []byte
	hdr [12]byte
}

// Create starts a new event file in dir, events.out.tfevents.<unix seconds>.<suffix>, with the
// file-version event. A folder holds one file per attempt of a run; TensorBoard reads them all.
func Create(dir, suffix string, now time.Time) (*Writer, error) {
	path := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%d.%s", now.Unix(), suffix))
	for i := 1; ; i++ { // a second attempt within the same second gets its own file
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		path = filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%d.%s.%d", now.Unix(), suffix, i))
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, w: bufio.NewWriter(f)}
	var ev []byte
	ev = protowire.AppendTag(ev, eventWallTime, protowire.Fixed64Type)
	ev = protowire.AppendFixed64(ev, math.Float64bits(wall(now)))
	ev = protowire.AppendTag(ev, eventFileVer, protowire.BytesType)
	ev = protowire.AppendString(ev, FileVersion)
	if err := w.record(ev); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Path is the file's path.
func (w *Writer) Path() string { return w.f.Name() }

func wall(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// record writes one TFRecord.
func (w *Writer) record(data []byte) error {
	binary.LittleEndian.PutUint64(w.hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(w.hdr[8:], maskedCRC(w.hdr[:8]))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], maskedCRC(data))
	for _, b := range [][]byte{w.hdr[:], data, tail[:]} {
		if _, err := w.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// event starts an Event's encoding at step and time now in the writer's buffer.
func (w *Writer) event(step int64, now time.Time) []byte {
	ev := w.rec[:0]
	ev = protowire.AppendTag(ev, eventWallTime, protowire.Fixed64Type)
	ev = protowire.AppendFixed64(ev, math.Float64bits(wall(now)))
	ev = protowire.AppendTag(ev, eventStep, protowire.VarintType)
	return protowire.AppendVarint(ev, uint64(step))
}

// Scalars writes one event at step holding a scalar summary per tag.
func (w *Writer) Scalars(step int64, now time.Time, tags []string, vals []float32) error {
	if len(tags) != len(vals) {
		return fmt.Errorf("tfevents: %d tags for %d values", len(tags), len(vals))
	}
	var sum []byte
	for i, tag := range tags {
		var v []byte
		v = protowire.AppendTag(v, valueTag, protowire.BytesType)
		v = protowire.AppendString(v, tag)
		v = protowire.AppendTag(v, valueSimple, protowire.Fixed32Type)
		v = protowire.AppendFixed32(v, math.Float32bits(vals[i]))
		sum = protowire.AppendTag(sum, summaryValue, protowire.BytesType)
		sum = protowire.AppendBytes(sum, v)
	}
	ev := w.event(step, now)
	ev = protowire.AppendTag(ev, eventSummary, protowire.BytesType)
	ev = protowire.AppendBytes(ev, sum)
	w.rec = ev
	return w.record(ev)
}

// Start writes a SessionLog START at step: TensorBoard discards the events of later steps in
// earlier files (those an interrupted attempt wrote after the checkpoint a run resumes from).
func (w *Writer) Start(step int64, now time.Time) error {
	var sl []byte
	sl = protowire.AppendTag(sl, sessionStatus, protowire.VarintType)
	sl = protowire.AppendVarint(sl, statusStart)
	ev := w.event(step, now)
	ev = protowire.AppendTag(ev, eventSessionLog, protowire.BytesType)
	ev = protowire.AppendBytes(ev, sl)
	w.rec = ev
	return w.record(ev)
}

// Flush writes what is buffered to the file.
func (w *Writer) Flush() error { return w.w.Flush() }

// Close flushes and closes the file.
func (w *Writer) Close() error {
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Event is a decoded event: its time, step, and what it held.
type Event struct {
	Wall         float64
	Step         int64
	FileVersion  string
	Values       map[string]float32 // scalar summaries by tag
	SessionStart bool
}

// Read decodes every record of the event file at path, checking both CRCs of each record, and
// returns the events in file order.
func Read(path string) ([]Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Event
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			return out, fmt.Errorf("tfevents: %s: %d bytes left at %d, a record header has 12", path, len(data)-off, off)
		}
		n := binary.LittleEndian.Uint64(data[off:])
		if maskedCRC(data[off:off+8]) != binary.LittleEndian.Uint32(data[off+8:]) {
			return out, fmt.Errorf("tfevents: %s: record at %d: length CRC mismatch", path, off)
		}
		start := off + 12
		if uint64(len(data)-start) < n+4 {
			return out, fmt.Errorf("tfevents: %s: record at %d: %d bytes announced, %d left", path, off, n, len(data)-start)
		}
		rec := data[start : start+int(n)]
		if maskedCRC(rec) != binary.LittleEndian.Uint32(data[start+int(n):]) {
			return out, fmt.Errorf("tfevents: %s: record at %d: data CRC mismatch", path, off)
		}
		ev, err := decodeEvent(rec)
		if err != nil {
			return out, fmt.Errorf("tfevents: %s: record at %d: %w", path, off, err)
		}
		out = append(out, ev)
		off = start + int(n) + 4
	}
	return out, nil
}

// fields calls f for each field of the message b.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(b)
			x = uint64(y)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

func decodeEvent(b []byte) (Event, error) {
	ev := Event{Values: map[string]float32{}}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case eventWallTime:
			ev.Wall = math.Float64frombits(x)
		case eventStep:
			ev.Step = int64(x)
		case eventFileVer:
			ev.FileVersion = string(v)
		case eventSummary:
			return fields(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
				if num != summaryValue {
					return nil
				}
				var tag string
				var val float32
				err := fields(v, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) error {
					switch num {
					case valueTag:
						tag = string(v)
					case valueSimple:
						val = math.Float32frombits(uint32(x))
					}
					return nil
				})
				ev.Values[tag] = val
				return err
			})
		case eventSessionLog:
			return fields(v, func(num protowire.Number, _ protowire.Type, _ []byte, x uint64) error {
				if num == sessionStatus && x == statusStart {
					ev.SessionStart = true
				}
				return nil
			})
		}
		return nil
	})
	return ev, err
}

// Tags returns the scalar tags of events, sorted.
func Tags(events []Event) []string {
	seen := map[string]bool{}
	for _, e := range events {
		for t := range e.Values {
			seen[t] = true
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
