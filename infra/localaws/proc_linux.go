package localaws

import "syscall"

// sysProcAttr puts a child in its own process group and kills it if the
// thread that started it (and so, in practice, the test binary) dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
