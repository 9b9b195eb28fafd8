// Package results defines the on-disk format of clgraph experiment runs and
// the continual-learning metrics (ACC, BWT, FWT, forgetting, learning
// accuracy) computed from accuracy matrices. The metrics are the entries of
// one table, Table, that every writer, reader, summary and report loops
// over, so adding a metric is adding an entry. It depends only on the standard
// library, so notebooks, report generators and other tools can read runs
// without pulling in any training code.
//
// A run directory contains config.json, one folder per strategy and seed
// (<slug(strategy)>/seed-<seed>/ with matrix.csv, b.csv and result.json),
// summary.json and summary.md. JSON cannot represent NaN or ±Inf, so every
// floating-point value this package writes that is not finite (for example the
// accuracy of a diverged run) is encoded as one of the JSON strings "NaN",
// "Inf" or "-Inf"; Read decodes those strings, and null, back to floats
// (null decodes as NaN).
package results
