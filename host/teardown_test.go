package host

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLeaveTeardown runs a process that fills 256 MiB and leaves its
// teardown: the holder shares its address space, holds no file but its
// pipe, outlives it, and exits once it has exited.
func TestLeaveTeardown(t *testing.T) {
	if os.Getenv("LDGO_TEARDOWN_CHILD") == "1" {
		mem := make([]byte, 256<<20)
		for i := 0; i < len(mem); i += 4096 {
			mem[i] = 1
		}
		fmt.Println(LeaveTeardown())
		bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeaveTeardown$")
	cmd.Env = append(os.Environ(), "LDGO_TEARDOWN_CHILD=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the child: %v", err)
	}
	holder, _ := strconv.Atoi(strings.TrimSpace(line))
	if holder <= 0 {
		t.Fatalf("no holder started: %q", line)
	}
	child := cmd.Process.Pid
	const kcmpVM = 1
	switch r, _, errno := syscall.Syscall6(unix.SYS_KCMP, uintptr(child), uintptr(holder), kcmpVM, 0, 0, 0); {
	case errno == syscall.EPERM || errno == syscall.ENOSYS:
		t.Logf("kcmp: %v: not checking that the holder shares the address space", errno)
	case errno != 0 || r != 0:
		t.Errorf("kcmp(KCMP_VM): %d, %v: the holder %d does not share %d's address space", r, errno, holder, child)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", holder))
	if err != nil || len(fds) != 1 || !strings.HasPrefix(readlink(t, holder, "fd/"+fds[0].Name()), "pipe:") {
		t.Errorf("the holder has files %v (%v); want its pipe only", fds, err)
	}
	if status(holder) == "gone" {
		t.Fatal("the holder exited before the process it holds for")
	}
	stdin.Write([]byte("\n"))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the child: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); status(holder) == "running"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the holder %d is still running 10 s after the process it held for exited", holder)
		}
	}
}

func readlink(t *testing.T, pid int, name string) string {
	s, err := os.Readlink(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// status is "gone" for a process that has exited (a zombie, or reaped),
// else "running".
func status(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "gone"
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
		return "gone"
	}
	return "running"
}
