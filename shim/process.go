package shim

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// CommandNotFoundError is a missing upstream command.
type CommandNotFoundError struct {
	Name string
	Path string // the PATH searched
}

func (e *CommandNotFoundError) Error() string {
	if strings.ContainsRune(e.Name, filepath.Separator) {
		return fmt.Sprintf("upstream command %q not found", e.Name)
	}
	return fmt.Sprintf("upstream command %q not found in PATH %q", e.Name, e.Path)
}

// LookCommand resolves name as exec.LookPath does, with an error naming the
// command and the PATH searched (path, the process's PATH). GUI-launched
// IDEs start the shim with a minimal PATH, which is the usual cause.
func LookCommand(name, path string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return "", &CommandNotFoundError{Name: name, Path: path}
	}
	return "", fmt.Errorf("upstream command %q: %w", name, err)
}

// Process is a stdio upstream: a child process in its own process group
// whose stdout carries the protocol and whose stderr is passed through.
type Process struct {
	cmd    *exec.Cmd
	stdin  *os.File
	r      *FrameReader
	w      *FrameWriter
	done   chan struct{} // closed when the child has exited
	err    error         // its exit status, valid after done
	closed sync.Once
}

// Command says how to start a stdio upstream.
type Command struct {
	Path string   // resolved with LookCommand
	Args []string // without the command itself
	Env  []string // nil: this process's environment
	// ExtraEnv are "NAME=value" entries added to Env (outbound
	// credentials injected at launch); they win over Env's.
	ExtraEnv []string
	Dir      string
	Stderr   io.Writer // the child's stderr; an *os.File is handed over directly
	MaxFrame int
	// BlockingRead reads the server's output with blocking reads on a
	// thread of their own (Linux), not through the runtime's poller:
	// fewer thread wake-ups on each answer's path, for a process that
	// relays one server (the shim), at the cost of a thread per server
	// (not for a gateway's many). The read ends when the server's
	// output does (it and its process group exited), as a poller read
	// does: nothing closes the pipe while the server runs.
	BlockingRead bool
}

// StartProcess starts the upstream.
func StartProcess(c Command) (*Process, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := outputPipe(c.BlockingRead)
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	if len(c.ExtraEnv) > 0 {
		// Environ is Env, or this process's environment when nil; exec
		// keeps the last of duplicate names.
		cmd.Env = append(cmd.Environ(), c.ExtraEnv...)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, c.Stderr
	setProcAttr(cmd)
	p := &Process{cmd: cmd, stdin: inW, r: NewFrameReader(outR, c.MaxFrame), w: NewFrameWriter(inW), done: make(chan struct{})}
	started := make(chan error, 1)
	// The goroutine that starts the child also waits for it: on Linux the
	// child's parent-death signal is tied to this OS thread (see
	// setProcAttr), so the thread must live as long as the child.
	go func() {
		lockThread()
		err := cmd.Start()
		started <- err
		if err != nil {
			close(p.done)
			return
		}
		p.err = cmd.Wait()
		// Anything the child left behind in its group goes too; their
		// copies of the stdout pipe would otherwise keep it open.
		_ = killGroup(cmd)
		close(p.done)
	}()
	err = <-started
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start upstream %s: %w", c.Path, err)
	}
	return p, nil
}

// Pid returns the child's process ID (and process group ID).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// ReadFrame implements Upstream.
func (p *Process) ReadFrame() ([]byte, error) { return p.r.ReadFrame() }

// WriteFrame implements Upstream. A write to a server that has exited
// says so, with its exit status, rather than "broken pipe".
func (p *Process) WriteFrame(msg []byte) error {
	err := p.w.WriteFrame(msg)
	if err != nil && p.wait(exitCauseWait) {
		if p.err != nil {
			return fmt.Errorf("the server process ended (%v)", p.err)
		}
		return errors.New("the server process ended")
	}
	return err
}

// ExitCause is err, or how the process ended when err is the end of its
// output and it has exited (or does within a moment).
func (p *Process) ExitCause(err error) error {
	if errors.Is(err, io.EOF) && p.wait(exitCauseWait) && p.err != nil {
		return fmt.Errorf("the server process ended (%v)", p.err)
	}
	return err
}

// exitCauseWait bounds the wait for a process whose pipe closed to be
// reaped, so an error can say how it ended; it is reaped at once in
// practice, and a process that closed its pipe but lives on is not
// waited for.
const exitCauseWait = 200 * time.Millisecond

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is the child's exit status, valid once Done is closed.
func (p *Process) ExitErr() error { return p.err }

// Shutdown implements Upstream: close the child's stdin, wait grace, send
// SIGTERM to its process group, wait grace, send SIGKILL.
func (p *Process) Shutdown(grace time.Duration) error {
	p.closed.Do(func() { p.stdin.Close() })
	if p.wait(grace) {
		return nil
	}
	_ = signalGroup(p.cmd, sigTerm)
	if p.wait(grace) {
		return nil
	}
	_ = killGroup(p.cmd)
	<-p.done
	return nil
}

// Kill ends the child's whole process group at once, without the polite
// steps (for a caller that gave up on it: a timeout), and returns once it
// is gone.
func (p *Process) Kill() error {
	p.closed.Do(func() { p.stdin.Close() })
	err := killGroup(p.cmd)
	<-p.done
	return err
}

func (p *Process) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}
