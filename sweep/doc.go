// Package sweep runs experiment grids: streams x scenarios x strategies (with option grids) x
// seeds under one protocol, described by a YAML experiment file, on the local cores or split
// into shards over a cluster, and summarises them.
//
// # Experiment files
//
//	name: regularization            # default: the file name; names the default output folder
//	description: free text
//	streams:                        # names, or mappings with per-stream settings
//	  - split-mnist
//	  - {name: permuted-mnist, tasks: 5, overrides: {iterations: 1000}}
//	scenarios: [task, domain, class]
//	strategies:                     # a mapping name -> option grid (or a list, see below)
//	  naive: {}
//	  joint: {}
//	  multihead: {}                 # needs task identity: left out of domain and class
//	  ewc: {lambda: [1e2, 1e3, 1e4]} # ewc:lambda=100, ewc:lambda=1000, ewc:lambda=10000
//	seeds: [1, 2, 3]                # or a range: 1-5
//	protocol: paper                 # paper or quick (default quick)
//	overrides:                      # optional, applied to every stream's protocol: any setting
//	  iterations: 2000              # of runspec.Spec but stream, scenario, protocol, strategy,
//	                                # seed, data_dir and class_order (a stream's own key)
//	  hidden: [400, 400]
//	  lr: 0.001
//	  batch: 128
//	  eval_batch: 1000
//	  train_limit: 0                # 0 = every training example
//	  test_limit: 0
//	  tasks: 5
//	  checkpoint_every: 0           # cells save checkpoints at task boundaries (and every N steps)
//
// An option grid is the Cartesian product of its options' values, the first option varying
// slowest; a scalar is a one-value list. Strategies may also be given as a list, whose items are
// a spec string ("naive", "naive:heads=multi") or a one-key mapping {name: grid}; the list form
// allows the same strategy twice with different grids. Numbers are written canonically (1e2 is
// 100, 1e-5 is 1e-05) and specs in their canonical form (options sorted by key), so the same
// setting always has the same name. Unknown keys and bad values are errors that name the file
// and line. A combination a strategy cannot run (it needs task identities that the scenario
// does not give) is left out of the grid and listed in Plan.Skipped.
//
// # Cells and their ids
//
// A cell is one strategy setting with one seed on one stream and scenario. Its id is a hash of
// its canonical settings (stream, tasks, class order, scenario, train and test limits, protocol
// name, iterations, batch, evaluation batch, learning rate, hidden sizes, strategy spec, seed),
// so it does not change when cells are added to or removed from the grid, and a changed setting
// gives a new id. Cells are numbered in grid order (stream, scenario, strategy, option values,
// seed); shard i of N runs the cells whose index modulo N is i.
//
// # The sweep folder
//
//	SWEEP_DIR/sweep.json                   the manifest: groups and cells (Manifest)
//	SWEEP_DIR/sweep-summary.json, .md      best setting per stream, scenario and strategy; the grid
//	SWEEP_DIR/<stream>-<scenario>/         a run folder (package results): config.json,
//	                                       summary.json, summary.md, <strategy>/seed-<n>/
//	SWEEP_DIR/<stream>-<scenario>/<strategy slug>/seed-<n>/
//	    result.json, matrix.csv, b.csv     the cell's result (results.WriteResult)
//	    cell.json                          the cell's id, settings, attempts and state
//	    cell.log                           one JSON line per start, completion or abort
//	    cell.lock                          present while a process runs the cell
//	    checkpoint.ckpt                    the run's state while it trains (loop.Cell)
//
// Cells run through loop.Runner.RunCell, as clgraph run's runs do: they save a checkpoint at task
// boundaries (and every checkpoint_every steps), and a cell interrupted (Ctrl-C, SIGTERM) or
// killed leaves its checkpoint behind and no result, so the next process to take the cell
// resumes it where it stopped, bit for bit, instead of from step 0.
//
// Every file is written atomically (write, fsync, rename). A group's config.json is created by
// whichever process gets there first (a hard link of a complete temporary file, which fails when
// the file exists) and never overwritten by a sweep; its settings fingerprint (Extra
// "sweep".group_id) is checked by every later process, so a folder is never mixed with results
// of other settings. Merge, which only one process should run at a time, rewrites it when the
// grid gained strategies or seeds.
//
// # Locks
//
// A process runs a cell only while it holds the cell's lock: cell.lock, created exclusively
// (hard link, or O_CREATE|O_EXCL where links are not supported) with the holder's host, pid,
// process start time, shard and a random token. The holder touches the file every heartbeat
// (Executor.Heartbeat), and gives the cell up without writing a result if the file is no
// longer its own (checked at every heartbeat and once more before writing). A lock is stale
// when its holder is on this host and no longer alive, or when it has not been touched for
// Executor.StaleAfter (holders on other hosts); a stale lock is removed under a second,
// short-lived lock (cell.lock.break) after checking it is still the same file, and the cell
// is then locked anew exclusively. After taking a lock a process checks again whether the cell
// is complete, so two processes never run the same cell at the same time and a complete cell
// is never run again. A cell is complete when its result.json has status ok and its cell.json
// has the cell's id.
//
// # BLAS threads
//
// In-process workers each run one cell at a time. Executor does not touch BLAS; the clgraph
// sweep command sizes its default worker count as the usable cores divided by the BLAS threads
// per worker (CLGRAPH_BLAS_THREADS, set to 1 when unset, before graphs/blas.Setup reads it).
package sweep
