// Package browsercheck checks a clgraph report in a real browser. It holds
// no code: its test, built only with the "browser" tag, loads report.html
// in headless Chromium and fails unless
//
//   - the HTML refers to no external URL (no http(s)://, protocol-relative
//     or CSS url() reference) and carries the Content-Security-Policy meta
//     tag that makes the browser block any request;
//   - after loading, every <img> decoded (naturalWidth > 0), no resource was
//     fetched from anything but data: URIs and no CSP violation happened (the
//     page's inline script records these as data-* attributes of <html>,
//     read back with --dump-dom);
//   - a page with an external image and style sheet injected, as a control,
//     is blocked by that policy;
//   - a full-page screenshot is not blank; it is saved as screenshot.png in
//     the report folder.
//
// Run it with
//
//	go test -tags browser ./results/report/browsercheck/
//
// It needs Chromium (Debian: apt-get install -y chromium; another binary can
// be named with $CHROMIUM). By default it checks the report of a synthetic
// run written to a temporary folder (or to $CLGRAPH_REPORT_OUT); with
// $CLGRAPH_RUN=RUN_DIR it first writes RUN_DIR/report, and with
// $CLGRAPH_REPORT=DIR it checks the report already in DIR. Chromium runs with
// a fresh profile and its host resolver mapped to nothing, so not even the
// browser's own background requests leave the machine.
package browsercheck
