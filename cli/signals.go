package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// ExitInterrupted is the exit code of a command stopped by SIGINT or SIGTERM: 128 + SIGINT, as
// shells report a process killed by Ctrl-C.
const ExitInterrupted = 130

// errSignal is the cause of the context cancelled by the first signal.
var errSignal = errors.New("signal received")

// interruptedError reports a command stopped by a signal after saving what it could.
type interruptedError struct{ msg string }

func (e interruptedError) Error() string { return e.msg }

// interruptContext returns a context cancelled by the first SIGINT or SIGTERM, after which
// the run stops at its next training step, saves a checkpoint and its partial results; a second
// signal exits the process at once with ExitInterrupted. stop releases the signals.
func interruptContext(stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go watchSignals(sigs, done, cancel, stderr, os.Exit)
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// watchSignals cancels on the first signal and calls exit(ExitInterrupted) on the second,
// until done is closed.
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, cancel context.CancelCauseFunc, w io.Writer, exit func(int)) {
	select {
	case s := <-sigs:
		fmt.Fprintf(w, "\nclgraph: %v: stopping at the next training step and saving a checkpoint (send it again to quit at once)\n", s)
		cancel(fmt.Errorf("%w: %v", errSignal, s))
	case <-done:
		return
	}
	select {
	case s := <-sigs:
		fmt.Fprintf(w, "\nclgraph: %v again: quitting now; resume from the last checkpoint with clgraph run --resume RUN_DIR\n", s)
		exit(ExitInterrupted)
	case <-done:
	}
}
