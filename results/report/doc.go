// Package report turns one or more clgraph run directories (see package
// results) into a report that compares their strategies: a self-contained
// HTML page (report.html) and a Markdown twin (report.md), with the plots
// written next to them as PNG and SVG files.
//
// The report shows, for every strategy of every run:
//
//   - the mean accuracy matrix R (row: after training on that task, column:
//     evaluated task) as a heatmap with the numbers in the cells;
//   - the average accuracy over the tasks seen so far after each task, one
//     line per strategy with the spread over seeds shaded (mean ± sample
//     standard deviation);
//   - each task's accuracy over time, one small panel per task;
//   - a bar chart of the headline metrics of results.Table (ACC, BWT, FWT
//     and forgetting) with error bars (sample standard deviation over seeds),
//     and every metric of the table as a table, with the metrics that are
//     undefined for some results and why;
//   - the cost (train and evaluation time, steps/s, parameters, peak RSS) as
//     a table;
//   - the configuration of every run (protocol, iterations, learning rate,
//     hidden layers, seeds, versions, data checksums, command).
//
// Only results with status "ok" and a complete accuracy matrix enter the
// plots and tables, as in results.Run.Summary; failed and interrupted results
// are listed with their errors.
//
// # Incomplete runs
//
// A run with interrupted results, or with strategy and seed pairs of its
// config.json that have no result (not run yet, or still running), is
// incomplete (results.Completion). Its report says so at the top ("run 1 (DIR)
// is incomplete: 3 of 6 runs finished, 1 interrupted, 2 missing; resume it
// with clgraph run --resume DIR"), its metric table gains interrupted and
// missing columns next to ok and failed, and the failures section lists the
// interrupted and missing runs too. The report of a complete run has none of
// these.
//
// # Self-contained HTML
//
// report.html opens offline: it has no external URL at all (no CDN, fonts or
// scripts); its images are PNG data: URIs, its style sheet is inline, and a
// Content-Security-Policy meta tag (default-src 'none'; img-src data:;
// style-src 'unsafe-inline'; plus the hash of its one inline script) makes
// the browser block any request that might slip in. The inline script only
// records, as data-* attributes of the <html> element, how many images
// decoded and whether any request or CSP violation happened, so that a
// headless browser can check the page (see the browsercheck folder).
//
// # Which runs compare
//
// Runs made on different days (with different seeds, strategies or
// versions) can be compared when they measured the same thing. Write and
// Check require every run to match the first one in:
//
//   - stream, scenario and protocol;
//   - the task names, in order (so also the split's class order);
//   - iterations per task, batch size, learning rate and hidden layer sizes;
//   - the "train_limit" and "test_limit" entries of Config.Extra, when both
//     runs have them;
//   - the SHA-256 digest of every data file named in both runs.
//
// Seeds, strategies, versions, evaluation batch size, data source path,
// creation time and command may differ. One folder may not be given twice
// (also not through another path or a symbolic link): that is an error
// wrapping ErrDuplicateRun. A mismatch is an error wrapping
// ErrMismatch that names the runs, the field and both values. When two runs
// hold the same strategy spec, the report labels them by run, e.g.
// "naive (run 2)".
//
// # Files
//
// Write creates (atomically, with results.WriteFileAtomic) in its output
// folder: report.html, report.md, and for each plot NAME.png and NAME.svg:
// heatmap-NN-SLUG (one per strategy with a complete matrix; NN numbers the
// strategies of the report, SLUG is results.Slug of the spec), avg-accuracy,
// task-accuracy and metrics. Earlier heatmap-*.png/svg files in that folder
// that the new report does not use are removed.
package report
