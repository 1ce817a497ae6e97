//! Starting a container's first process: `clone(2)` (optionally into new namespaces), the
//! child parked on a pipe until the parent has isolated it, then `execve(2)`.
//!
//! This is the one place of the crate with `unsafe` code. Mesos forks a helper
//! (`mesos-containerizer launch`) that blocks on a pipe until the agent has put its pid into
//! cgroups; we do the same in-process:
//!
//! 1. the parent prepares everything the child needs (C strings, the pointer arrays for
//!    `execve`, open file descriptors), because after `clone` in a multi-threaded program
//!    the child may only make async-signal-safe calls: no allocation, no locks;
//! 2. `clone(SIGCHLD | namespaces)`; the child starts a new session (`setsid`), then blocks
//!    reading the *go* pipe;
//! 3. the parent learns the pid, isolates it (cgroups), and writes one byte to the go pipe
//!    ([`Spawned::release`]) — or closes it without writing ([`Spawned::abort`]), and the
//!    child exits with 127;
//! 4. the child mounts a fresh `/proc` if it is the init of a new pid namespace, wires
//!    stdin/stdout/stderr, changes directory, drops privileges and execs. A failure at any
//!    step is written (step, errno) to the *error* pipe, which is close-on-exec: the parent
//!    reads end-of-file on success.

#![allow(unsafe_code)]

use std::ffi::{CString, c_char};
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use thiserror::Error;

/// The stack the child runs on until it execs. It only makes system calls.
const CHILD_STACK_SIZE: usize = 256 * 1024;

/// How long [`Spawned::release`] waits for the child to exec.
pub const EXEC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Exit status of a child that could not exec, or whose launch was aborted (as a shell's
/// "command not found").
pub const EXEC_FAILED_STATUS: i32 = 127;

/// The step of the child's set-up that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildStep {
    /// `setsid`.
    Setsid,
    /// Making `/` private and mounting `/proc` in the new mount namespace.
    MountProc,
    /// `dup2` of stdin/stdout/stderr.
    Stdio,
    /// `chdir` into the sandbox.
    Chdir,
    /// `setgroups`/`setgid`/`setuid`.
    Credentials,
    /// `execve`.
    Exec,
    /// Something the child did not recognise.
    Unknown,
}

impl ChildStep {
    fn code(self) -> u8 {
        match self {
            ChildStep::Setsid => 1,
            ChildStep::MountProc => 2,
            ChildStep::Stdio => 3,
            ChildStep::Chdir => 4,
            ChildStep::Credentials => 5,
            ChildStep::Exec => 6,
            ChildStep::Unknown => 0,
        }
    }

    fn from_code(code: u8) -> ChildStep {
        match code {
            1 => ChildStep::Setsid,
            2 => ChildStep::MountProc,
            3 => ChildStep::Stdio,
            4 => ChildStep::Chdir,
            5 => ChildStep::Credentials,
            6 => ChildStep::Exec,
            _ => ChildStep::Unknown,
        }
    }
}

impl fmt::Display for ChildStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChildStep::Setsid => "setsid",
            ChildStep::MountProc => "mount /proc",
            ChildStep::Stdio => "redirect stdio",
            ChildStep::Chdir => "chdir",
            ChildStep::Credentials => "switch user",
            ChildStep::Exec => "exec",
            ChildStep::Unknown => "set up",
        })
    }
}

/// Why a process could not be started.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// A string holds a NUL byte.
    #[error("{what} contains a NUL byte")]
    Nul {
        /// Which string.
        what: &'static str,
    },
    /// Creating the pipes failed.
    #[error("cannot create a pipe")]
    Pipe(#[source] Errno),
    /// `clone` failed.
    #[error("cannot clone")]
    Clone(#[source] Errno),
    /// The child failed before or at `execve`.
    #[error("failed to {step} '{program}'")]
    Child {
        /// The failed step.
        step: ChildStep,
        /// The program that was to run.
        program: String,
        /// The child's errno.
        #[source]
        errno: Errno,
    },
    /// The child neither exec'd nor failed in time; it was killed.
    #[error("'{program}' did not start within the exec timeout; killed")]
    Stuck {
        /// The program that was to run.
        program: String,
    },
    /// Talking to the child over its pipes failed.
    #[error("cannot signal the child to exec")]
    Release(#[source] std::io::Error),
}

/// Credentials to switch to before exec.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// Everything the child needs, prepared by the parent.
#[derive(Debug)]
pub struct ChildSpec {
    /// The absolute path of the program.
    pub program: CString,
    /// `argv`, `argv[0]` included.
    pub argv: Vec<CString>,
    /// `NAME=value` entries.
    pub envp: Vec<CString>,
    /// The working directory.
    pub cwd: CString,
    /// Becomes fd 0.
    pub stdin: OwnedFd,
    /// Becomes fd 1.
    pub stdout: OwnedFd,
    /// Becomes fd 2.
    pub stderr: OwnedFd,
    /// Switch to these before exec (the agent runs as root).
    pub credentials: Option<Credentials>,
    /// Namespaces to create (`CLONE_NEWPID`, `CLONE_NEWNS`).
    pub namespaces: CloneFlags,
    /// Mount a fresh `/proc` (for a new pid namespace; needs `CLONE_NEWNS`).
    pub mount_proc: bool,
}

/// Builds a C string, naming the field on error.
pub fn cstring(what: &'static str, value: impl Into<Vec<u8>>) -> Result<CString, SpawnError> {
    CString::new(value).map_err(|_| SpawnError::Nul { what })
}

/// Whether the child shares our address space until it execs (`CLONE_VM`, as `posix_spawn`
/// and `vfork` do): then `clone` copies no page tables and the parent takes no copy-on-write
/// faults afterwards, which is most of the cost of a launch from a big agent process. Only
/// where the child can make system calls without touching `errno` (it would be our thread's).
const SHARE_MEMORY: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// A child that has been cloned and waits for [`Spawned::release`].
#[derive(Debug)]
pub struct Spawned {
    pid: Pid,
    program: String,
    go: Option<OwnedFd>,
    errors: Option<OwnedFd>,
    /// What the child runs on until it execs; freed once it no longer does.
    memory: Option<Box<ChildMemory>>,
}

impl Spawned {
    /// The child's pid (in the agent's pid namespace).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Lets the child exec and waits until it has (or has failed to). A child that has
    /// neither exec'd nor failed after [`EXEC_TIMEOUT`] is killed.
    pub fn release(self) -> Result<(), SpawnError> {
        self.release_nowait()?.wait()
    }

    /// Lets the child exec without waiting: [`ExecWait::wait`] (on any thread) then tells
    /// whether it did. The containerizer waits on the child's reaper thread, so that it can
    /// go on launching other containers meanwhile.
    pub fn release_nowait(mut self) -> Result<ExecWait, SpawnError> {
        let go = self.go.take().expect("released once");
        let wait = ExecWait {
            pid: self.pid,
            program: std::mem::take(&mut self.program),
            errors: self.errors.take(),
            memory: self.memory.take(),
        };
        // On failure, dropping `wait` waits for the child to let go of its memory.
        File::from(go)
            .write_all(&[1])
            .map_err(SpawnError::Release)?;
        Ok(wait)
    }

    /// Tells the child not to exec: it exits with [`EXEC_FAILED_STATUS`]. Returns once it no
    /// longer runs in our memory.
    pub fn abort(self) {
        drop(self);
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // End-of-file on the go pipe: the child exits without exec.
        self.go.take();
        if let Some(errors) = self.errors.take() {
            let _ = read_report(self.pid, errors, self.memory.take());
        }
    }
}

/// A released child whose exec is not yet confirmed (see [`Spawned::release_nowait`]).
#[derive(Debug)]
pub struct ExecWait {
    pid: Pid,
    program: String,
    errors: Option<OwnedFd>,
    memory: Option<Box<ChildMemory>>,
}

impl ExecWait {
    /// Waits until the child has exec'd (or failed to). A child that has neither exec'd
    /// nor failed after [`EXEC_TIMEOUT`] is killed.
    pub fn wait(mut self) -> Result<(), SpawnError> {
        let errors = self.errors.take().expect("waited once");
        let program = std::mem::take(&mut self.program);
        let report = match read_report(self.pid, errors, self.memory.take()) {
            Ok(Some(report)) => report,
            Ok(None) => return Err(SpawnError::Stuck { program }),
            Err(error) => return Err(SpawnError::Release(error)),
        };
        match report[..] {
            [] => Ok(()),
            [step, a, b, c, d, ..] => Err(SpawnError::Child {
                step: ChildStep::from_code(step),
                program,
                errno: Errno::from_raw(i32::from_ne_bytes([a, b, c, d])),
            }),
            _ => Err(SpawnError::Child {
                step: ChildStep::Unknown,
                program,
                errno: Errno::UnknownErrno,
            }),
        }
    }
}

impl Drop for ExecWait {
    fn drop(&mut self) {
        if let Some(errors) = self.errors.take() {
            let _ = read_report(self.pid, errors, self.memory.take());
        }
    }
}

/// Reads the child's error pipe to its end: its report (step, errno), empty when it exec'd.
/// The end of the pipe also says that the child no longer runs in our memory (the pipe is
/// closed by exec or exit, after the child has left our address space): only then is
/// `memory` freed. A child that gets there neither within [`EXEC_TIMEOUT`] is killed,
/// `Ok(None)`; its memory is leaked then, as it is on a read error, since the child might
/// still use it.
fn read_report(
    pid: Pid,
    errors: OwnedFd,
    memory: Option<Box<ChildMemory>>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut fds = [PollFd::new(errors.as_fd(), PollFlags::POLLIN)];
    let timeout =
        PollTimeout::try_from(EXEC_TIMEOUT.as_millis() as i32).unwrap_or(PollTimeout::MAX);
    loop {
        match poll(&mut fds, timeout) {
            Ok(0) => {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                std::mem::forget(memory);
                return Ok(None);
            }
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(errno) => {
                std::mem::forget(memory);
                return Err(errno.into());
            }
        }
    }
    let mut report = Vec::new();
    match File::from(errors).read_to_end(&mut report) {
        Ok(_) => {
            drop(memory);
            Ok(Some(report))
        }
        Err(error) => {
            std::mem::forget(memory);
            Err(error)
        }
    }
}

/// Everything the child reads until it execs, prepared by the parent so that the child
/// need not allocate. With [`SHARE_MEMORY`] the child runs in our address space, so this
/// lives at a fixed heap address, owned by [`Spawned`] and then [`ExecWait`], until the
/// child has exec'd or exited.
struct ChildMemory {
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    spec: ChildSpec,
    go_read: i32,
    go_write: i32,
    errors_read: i32,
    errors_write: i32,
    stack: Vec<u8>,
}

// SAFETY: the raw pointers point into the C strings of `spec`, which this value owns; they
// are only read (by the child) while it lives.
unsafe impl Send for ChildMemory {}

impl fmt::Debug for ChildMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildMemory")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

extern "C" fn child_entry(memory: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `spawn` passes a pointer to a `ChildMemory` that outlives the child's use of
    // it (see `read_report`); the child only reads it.
    child(unsafe { &*(memory as *const ChildMemory) })
}

/// Clones a child for `spec`; it waits on the go pipe until [`Spawned::release`].
pub fn spawn(spec: ChildSpec) -> Result<Spawned, SpawnError> {
    let (go_read, go_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?;
    let (errors_read, errors_write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?;
    let program = spec.program.to_string_lossy().into_owned();
    let mut memory = Box::new(ChildMemory {
        argv: pointers(&spec.argv),
        envp: pointers(&spec.envp),
        spec,
        go_read: go_read.as_raw_fd(),
        go_write: go_write.as_raw_fd(),
        errors_read: errors_read.as_raw_fd(),
        errors_write: errors_write.as_raw_fd(),
        stack: vec![0u8; CHILD_STACK_SIZE],
    });
    let mut flags = memory.spec.namespaces.bits() | libc::SIGCHLD;
    if SHARE_MEMORY {
        flags |= libc::CLONE_VM;
    }
    // SAFETY: the stack is ours, 16-byte aligned at its top, and lives (in `memory`) until
    // the child has exec'd or exited. The child runs `child`, which makes only raw system
    // calls (no allocation, no locks, no unwinding, no `errno`) on `memory`, and never
    // returns: it execs or exits. Every signal is blocked around `clone`, so no handler of
    // ours runs on the child's side before it has reset them (it shares our memory).
    let pid = unsafe {
        let top = memory.stack.as_mut_ptr().add(CHILD_STACK_SIZE);
        let top = top.sub(top as usize % 16);
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::clone(
            child_entry,
            top.cast(),
            flags,
            (&raw const *memory).cast_mut().cast(),
        );
        let errno = Errno::last();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if pid < 0 {
            return Err(SpawnError::Clone(errno));
        }
        Pid::from_raw(pid)
    };
    drop(go_read);
    drop(errors_write);
    Ok(Spawned {
        pid,
        program,
        go: Some(go_write),
        errors: Some(errors_read),
        memory: Some(memory),
    })
}

/// Raw system calls for the child: they return `-errno` and leave `errno` alone, which
/// lives in the memory of the parent's thread while the child shares it.
mod sys {
    /// The result of a raw system call: the value, or the errno.
    pub(super) fn check(ret: isize) -> Result<isize, i32> {
        if (-4095..0).contains(&ret) {
            Err(-ret as i32)
        } else {
            Ok(ret)
        }
    }

    /// System call `n` with six arguments.
    ///
    /// # Safety
    /// As the system call itself.
    #[cfg(target_arch = "x86_64")]
    pub(super) unsafe fn call(n: libc::c_long, a: [usize; 6]) -> isize {
        let ret: isize;
        // SAFETY: the x86-64 Linux system call convention; see the function's contract.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") n as isize => ret,
                in("rdi") a[0],
                in("rsi") a[1],
                in("rdx") a[2],
                in("r10") a[3],
                in("r8") a[4],
                in("r9") a[5],
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }

    /// System call `n` with six arguments.
    ///
    /// # Safety
    /// As the system call itself.
    #[cfg(target_arch = "aarch64")]
    pub(super) unsafe fn call(n: libc::c_long, a: [usize; 6]) -> isize {
        let ret: isize;
        // SAFETY: the aarch64 Linux system call convention; see the function's contract.
        unsafe {
            std::arch::asm!(
                "svc 0",
                in("x8") n,
                inlateout("x0") a[0] as isize => ret,
                in("x1") a[1],
                in("x2") a[2],
                in("x3") a[3],
                in("x4") a[4],
                in("x5") a[5],
                options(nostack),
            );
        }
        ret
    }

    /// Elsewhere, libc's wrapper (which sets `errno`: [`super::SHARE_MEMORY`] is off there).
    ///
    /// # Safety
    /// As the system call itself.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub(super) unsafe fn call(n: libc::c_long, a: [usize; 6]) -> isize {
        // SAFETY: see the function's contract.
        let ret = unsafe { libc::syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]) };
        if ret < 0 {
            // SAFETY: reading this thread's errno.
            -(unsafe { *libc::__errno_location() } as isize)
        } else {
            ret as isize
        }
    }
}

/// A raw system call with up to six arguments, as `Result<isize, errno>`.
macro_rules! sys {
    ($n:expr $(, $a:expr)* $(,)?) => {{
        let mut args = [0usize; 6];
        let given: &[usize] = &[$($a as usize),*];
        args[..given.len()].copy_from_slice(given);
        sys::check(sys::call($n, args))
    }};
}

/// Writes (step, errno) to the error pipe and exits: the child's failure path.
///
/// # Safety
/// Two raw system calls.
unsafe fn report_and_exit(errors_write: i32, step: ChildStep, errno: i32) -> ! {
    let bytes = errno.to_ne_bytes();
    let report = [step.code(), bytes[0], bytes[1], bytes[2], bytes[3]];
    // SAFETY: see the function's contract.
    unsafe {
        let _ = sys!(libc::SYS_write, errors_write, report.as_ptr(), report.len());
        exit(EXEC_FAILED_STATUS)
    }
}

/// Ends the child.
///
/// # Safety
/// One raw system call.
unsafe fn exit(status: i32) -> ! {
    // SAFETY: see the function's contract.
    unsafe {
        let _ = sys!(libc::SYS_exit_group, status);
    }
    unreachable!("exit_group returned")
}

/// The kernel's `struct sigaction` (with `sa_restorer`, which x86-64 and aarch64 have).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// Puts every signal we catch, and `SIGPIPE` (which the Rust runtime ignores; ignored
/// dispositions survive exec), back to its default, as a freshly forked shell would have
/// them: no handler of ours may run in the child, which shares our memory.
///
/// # Safety
/// Raw system calls on the child's own signal table.
unsafe fn reset_signal_handlers() {
    const NSIG: i32 = 65;
    for signal in 1..NSIG {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        let mut old = KernelSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: reads the disposition into `old`, which is big enough for the kernel's.
        let read = unsafe { sys!(libc::SYS_rt_sigaction, signal, 0usize, &raw mut old, 8usize) };
        if read.is_err() {
            continue;
        }
        let caught = old.handler != libc::SIG_DFL && old.handler != libc::SIG_IGN;
        if caught || signal == libc::SIGPIPE {
            let default = KernelSigaction {
                handler: libc::SIG_DFL,
                flags: 0,
                restorer: 0,
                mask: 0,
            };
            // SAFETY: sets the default disposition.
            let _ = unsafe {
                sys!(
                    libc::SYS_rt_sigaction,
                    signal,
                    &raw const default,
                    0usize,
                    8usize
                )
            };
        }
    }
}

/// Makes `fd` the descriptor `target`, open across exec.
///
/// # Safety
/// Raw system calls on the child's own descriptors.
unsafe fn dup_to(fd: i32, target: i32) -> Result<isize, i32> {
    // SAFETY: see the function's contract.
    unsafe {
        if fd == target {
            sys!(libc::SYS_fcntl, fd, libc::F_SETFD, 0)
        } else {
            sys!(libc::SYS_dup3, fd, target, 0)
        }
    }
}

/// The child: runs after `clone` (in our memory with [`SHARE_MEMORY`]), makes only raw
/// system calls, never returns.
fn child(m: &ChildMemory) -> ! {
    // SAFETY: every call below is a raw system call on file descriptors, C strings and
    // buffers the parent prepared in `m` (which outlives our use of it); nothing allocates,
    // takes a lock, unwinds or writes `errno`. Every signal is blocked (the parent blocked
    // them around `clone`) until just before `execve`, and our handlers are reset first.
    // Every path ends in `execve` or `exit`.
    unsafe {
        let fail = |step: ChildStep, errno: i32| report_and_exit(m.errors_write, step, errno);

        let _ = sys!(libc::SYS_close, m.go_write);
        let _ = sys!(libc::SYS_close, m.errors_read);
        reset_signal_handlers();

        // A new session (and process group) whose id is our pid: the posix launcher kills
        // the container by it.
        if let Err(errno) = sys!(libc::SYS_setsid) {
            fail(ChildStep::Setsid, errno);
        }

        // Park until the parent has isolated us. End-of-file means: give up.
        let mut byte = 0u8;
        loop {
            match sys!(libc::SYS_read, m.go_read, &raw mut byte, 1usize) {
                Ok(1) => break,
                Err(libc::EINTR) => continue,
                _ => exit(EXEC_FAILED_STATUS),
            }
        }
        let _ = sys!(libc::SYS_close, m.go_read);

        if m.spec.mount_proc {
            if let Err(errno) = sys!(
                libc::SYS_mount,
                0usize,
                c"/".as_ptr(),
                0usize,
                libc::MS_REC | libc::MS_PRIVATE,
                0usize
            ) {
                fail(ChildStep::MountProc, errno);
            }
            if let Err(errno) = sys!(
                libc::SYS_mount,
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                0usize
            ) {
                fail(ChildStep::MountProc, errno);
            }
        }

        for (fd, target) in [
            (m.spec.stdin.as_raw_fd(), 0),
            (m.spec.stdout.as_raw_fd(), 1),
            (m.spec.stderr.as_raw_fd(), 2),
        ] {
            if let Err(errno) = dup_to(fd, target) {
                fail(ChildStep::Stdio, errno);
            }
        }

        if let Err(errno) = sys!(libc::SYS_chdir, m.spec.cwd.as_ptr()) {
            fail(ChildStep::Chdir, errno);
        }

        if let Some(credentials) = &m.spec.credentials {
            // Raw system calls: glibc's wrappers would broadcast the change to every thread
            // glibc believes the process has (`SIGSETXID`), which are the parent's.
            let set = sys!(
                libc::SYS_setgroups,
                credentials.groups.len(),
                credentials.groups.as_ptr()
            )
            .and_then(|_| {
                sys!(
                    libc::SYS_setresgid,
                    credentials.gid,
                    credentials.gid,
                    credentials.gid
                )
            })
            .and_then(|_| {
                sys!(
                    libc::SYS_setresuid,
                    credentials.uid,
                    credentials.uid,
                    credentials.uid
                )
            });
            if let Err(errno) = set {
                fail(ChildStep::Credentials, errno);
            }
        }

        // Unblock every signal, as a freshly forked shell would have them.
        let empty = 0u64;
        let _ = sys!(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &raw const empty,
            0usize,
            8usize
        );

        let errno = match sys!(
            libc::SYS_execve,
            m.spec.program.as_ptr(),
            m.argv.as_ptr(),
            m.envp.as_ptr()
        ) {
            Err(errno) => errno,
            Ok(_) => 0,
        };
        report_and_exit(m.errors_write, ChildStep::Exec, errno)
    }
}
