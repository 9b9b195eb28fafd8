// Package k8scheck validates deploy/k8s-indexed-job.yaml offline, without a Kubernetes API
// server: every document decodes strictly (unknown or misspelt fields, wrong types and unknown
// kinds are errors) into the Kubernetes API's own Go types (k8s.io/api), and the Job is checked
// for what clgraph's sharded sweeps need (an Indexed Job whose completions equal the sweep's
// --shards, the results volume mounted where --out points, the sweep file where its path
// points). It is a module of its own so that clgraph does not depend on the Kubernetes API
// packages; .ci/run runs its test.
package k8scheck
