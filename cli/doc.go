// Package cli is clgraph's command-line interface as a library: Main takes the strategy registry,
// so a researcher's own main package can register strategies of their own and get the same
// commands (run, strategies, streams) for them.
package cli
