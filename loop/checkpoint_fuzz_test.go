package loop_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// FuzzLoadCheckpoint feeds DecodeCheckpoint arbitrary bytes, and (fix=true) bytes whose checksum
// is recomputed so that mutations reach the header and state decoders and the runner's restore.
// Nothing may panic; whatever decodes must re-encode to a checkpoint that decodes to the same
// bytes, and resuming from it must either fail with an error or give a well-formed result.
func FuzzLoadCheckpoint(f *testing.F) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 4, 8, 1)
	set := loop.Settings{Spec: runspec.Spec{Protocol: "fuzz", Iterations: 4, Batch: 4, EvalBatch: 16, LR: 1e-2, Hidden: []int{3}, Seed: 1}}
	dir := f.TempDir()
	for _, spec := range []string{"naive", "joint"} {
		path := filepath.Join(dir, spec)
		hook := func(e loop.Event) {
			if e.Kind == loop.CheckpointSaved {
				data, err := os.ReadFile(e.Checkpoint)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(data, false)
				f.Add(data, true)
			}
		}
		s, err := strategies.Default.New(spec)
		if err != nil {
			f.Fatal(err)
		}
		set := set
		set.Checkpoint, set.CheckpointEvery = loop.CheckpointSettings{Path: path}, 3
		if _, err := (&loop.Runner{Hooks: []loop.Hook{loop.Observe(hook)}}).Run(context.Background(), st, s, named(set, spec)); err != nil {
			f.Fatal(err)
		}
	}
	f.Add([]byte(loop.CheckpointFormat+"\n{}\n{}\n"), true)
	f.Add([]byte("clgraph.checkpoint/v2\n"), false)
	f.Add([]byte{}, false)
	discard := quietLogger()
	quiet := &loop.Runner{Log: discard}
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			data = reseal(data)
		}
		c, err := loop.DecodeCheckpoint(data)
		if err != nil {
			if !errors.Is(err, loop.ErrCheckpoint) {
				t.Fatalf("error does not wrap ErrCheckpoint: %v", err)
			}
			return
		}
		enc, err := c.Encode()
		if err != nil {
			return // e.g. a state that JSON cannot encode again
		}
		c2, err := loop.DecodeCheckpoint(enc)
		if err != nil {
			t.Fatalf("a re-encoded checkpoint does not decode: %v", err)
		}
		if enc2, _ := c2.Encode(); !bytes.Equal(enc, enc2) {
			t.Fatal("encoding is not stable")
		}
		spec := c.Header.Spec.Strategy
		if spec != "naive" && spec != "joint" {
			return
		}
		s, err := strategies.Default.New(spec)
		if err != nil {
			return
		}
		rset := set
		rset.Checkpoint = loop.CheckpointSettings{Resume: c}
		res, err := quiet.Run(context.Background(), st, s, named(rset, spec))
		if err != nil {
			if strings.Contains(err.Error(), "panic:") {
				t.Fatalf("resuming panicked: %v", err)
			}
			return
		}
		if len(res.R) != len(st.Tasks) || len(res.B) != len(st.Tasks) {
			t.Fatalf("resumed to %d rows and %d entries of b", len(res.R), len(res.B))
		}
	})
}
