package streams

import (
	"context"

	"github.com/clgraph/clgraph/datasets/mnist"
	"github.com/clgraph/clgraph/stream"
)

// Data is a dataset's training and test sets, each held once in memory for every stream and
// seed built over it, and where they came from.
type Data struct {
	Train, Test *stream.Dataset
	Classes     int
	Source      string
	Files       map[string]string // file name -> SHA-256
}

// LoadMNIST loads real MNIST (see package mnist for its sources) and scales pixels to [0,1].
func LoadMNIST(ctx context.Context, opts mnist.Options) (*Data, error) {
	set, err := mnist.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	return FromMNIST(set), nil
}

// FromMNIST converts a loaded MNIST set into Data.
func FromMNIST(set *mnist.Set) *Data {
	return &Data{Train: toDataset(set.Train), Test: toDataset(set.Test), Classes: 10, Source: set.Source, Files: set.Files}
}

func toDataset(im *mnist.Images) *stream.Dataset {
	dim := im.Rows * im.Cols
	d := &stream.Dataset{N: im.N, Dim: dim, X: make([]float32, len(im.Pixels)), Labels: im.Labels}
	for i, p := range im.Pixels {
		d.X[i] = float32(p) / 255
	}
	return d
}
