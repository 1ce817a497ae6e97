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

/// A child that has been cloned and waits for [`Spawned::release`].
#[derive(Debug)]
pub struct Spawned {
    pid: Pid,
    program: String,
    go: Option<OwnedFd>,
    errors: Option<OwnedFd>,
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
        File::from(go)
            .write_all(&[1])
            .map_err(SpawnError::Release)?;
        Ok(ExecWait {
            pid: self.pid,
            program: std::mem::take(&mut self.program),
            errors: self.errors.take().expect("released once"),
        })
    }

    /// Tells the child not to exec: it exits with [`EXEC_FAILED_STATUS`].
    pub fn abort(mut self) {
        self.go.take();
        self.errors.take();
    }
}

/// A released child whose exec is not yet confirmed (see [`Spawned::release_nowait`]).
#[derive(Debug)]
pub struct ExecWait {
    pid: Pid,
    program: String,
    errors: OwnedFd,
}

impl ExecWait {
    /// Waits until the child has exec'd (or failed to). A child that has neither exec'd
    /// nor failed after [`EXEC_TIMEOUT`] is killed.
    pub fn wait(self) -> Result<(), SpawnError> {
        let errors = self.errors;
        let mut fds = [PollFd::new(errors.as_fd(), PollFlags::POLLIN)];
        let timeout =
            PollTimeout::try_from(EXEC_TIMEOUT.as_millis() as i32).unwrap_or(PollTimeout::MAX);
        loop {
            match poll(&mut fds, timeout) {
                Ok(0) => {
                    let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
                    return Err(SpawnError::Stuck {
                        program: self.program,
                    });
                }
                Ok(_) => break,
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(SpawnError::Release(errno.into())),
            }
        }
        let mut report = Vec::new();
        File::from(errors)
            .read_to_end(&mut report)
            .map_err(SpawnError::Release)?;
        match report[..] {
            [] => Ok(()),
            [step, a, b, c, d, ..] => Err(SpawnError::Child {
                step: ChildStep::from_code(step),
                program: self.program,
                errno: Errno::from_raw(i32::from_ne_bytes([a, b, c, d])),
            }),
            _ => Err(SpawnError::Child {
                step: ChildStep::Unknown,
                program: self.program,
                errno: Errno::UnknownErrno,
            }),
        }
    }
}

/// Pointers into a [`ChildSpec`], built before `clone` so the child need not allocate.
struct Prepared<'a> {
    spec: &'a ChildSpec,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    go_read: i32,
    go_write: i32,
    errors_read: i32,
    errors_write: i32,
}

fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Clones a child for `spec`; it waits on the go pipe until [`Spawned::release`].
pub fn spawn(spec: &ChildSpec) -> Result<Spawned, SpawnError> {
    let (go_read, go_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?;
    let (errors_read, errors_write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?;
    let prepared = Prepared {
        spec,
        argv: pointers(&spec.argv),
        envp: pointers(&spec.envp),
        go_read: go_read.as_raw_fd(),
        go_write: go_write.as_raw_fd(),
        errors_read: errors_read.as_raw_fd(),
        errors_write: errors_write.as_raw_fd(),
    };
    let mut stack = vec![0u8; CHILD_STACK_SIZE];
    let callback: nix::sched::CloneCb<'_> = Box::new(|| child(&prepared));
    // SAFETY: without CLONE_VM the child gets a copy of our address space, `stack`
    // included; it runs `child`, which only makes raw system calls (async-signal-safe: no
    // allocation, no locks, no unwinding) on data prepared above, and never returns into
    // Rust code of the parent: it execs or `_exit`s. 256 KiB is ample for those calls.
    let pid =
        unsafe { nix::sched::clone(callback, &mut stack, spec.namespaces, Some(libc::SIGCHLD)) }
            .map_err(SpawnError::Clone)?;
    drop(go_read);
    drop(errors_write);
    Ok(Spawned {
        pid,
        program: spec.program.to_string_lossy().into_owned(),
        go: Some(go_write),
        errors: Some(errors_read),
    })
}

/// Writes (step, errno) to the error pipe and exits: the child's failure path.
///
/// # Safety
/// Async-signal-safe: two system calls on a file descriptor.
unsafe fn report_and_exit(errors_write: i32, step: ChildStep) -> ! {
    // SAFETY: see the function's contract.
    unsafe {
        let errno = *libc::__errno_location();
        let bytes = errno.to_ne_bytes();
        let report = [step.code(), bytes[0], bytes[1], bytes[2], bytes[3]];
        libc::write(errors_write, report.as_ptr().cast(), report.len());
        libc::_exit(EXEC_FAILED_STATUS)
    }
}

/// The child: runs after `clone`, makes only system calls, never returns.
fn child(p: &Prepared<'_>) -> isize {
    // SAFETY: every call below is a raw, async-signal-safe system call on file descriptors
    // and C strings the parent prepared (they live in our copy of its memory); nothing
    // allocates, takes a lock or unwinds. Every path ends in `execve` or `_exit`.
    unsafe {
        let fail = |step: ChildStep| report_and_exit(p.errors_write, step);

        libc::close(p.go_write);
        libc::close(p.errors_read);

        // A new session (and process group) whose id is our pid: the posix launcher kills
        // the container by it.
        if libc::setsid() < 0 {
            fail(ChildStep::Setsid);
        }

        // Park until the parent has isolated us. End-of-file means: give up.
        let mut byte = 0u8;
        loop {
            let n = libc::read(p.go_read, (&raw mut byte).cast(), 1);
            if n == 1 {
                break;
            }
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            libc::_exit(EXEC_FAILED_STATUS);
        }
        libc::close(p.go_read);

        if p.spec.mount_proc {
            let root = c"/".as_ptr();
            if libc::mount(
                std::ptr::null(),
                root,
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) < 0
            {
                fail(ChildStep::MountProc);
            }
            if libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) < 0
            {
                fail(ChildStep::MountProc);
            }
        }

        if libc::dup2(p.spec.stdin.as_raw_fd(), 0) < 0
            || libc::dup2(p.spec.stdout.as_raw_fd(), 1) < 0
            || libc::dup2(p.spec.stderr.as_raw_fd(), 2) < 0
        {
            fail(ChildStep::Stdio);
        }

        if libc::chdir(p.spec.cwd.as_ptr()) < 0 {
            fail(ChildStep::Chdir);
        }

        if let Some(credentials) = &p.spec.credentials {
            // Raw system calls, not glibc's wrappers: those broadcast the change to every
            // thread glibc believes the process has (`SIGSETXID`), and after a raw clone
            // its thread list is the parent's: the child would wait for them forever.
            if libc::syscall(
                libc::SYS_setgroups,
                credentials.groups.len(),
                credentials.groups.as_ptr(),
            ) < 0
                || libc::syscall(
                    libc::SYS_setresgid,
                    credentials.gid,
                    credentials.gid,
                    credentials.gid,
                ) < 0
                || libc::syscall(
                    libc::SYS_setresuid,
                    credentials.uid,
                    credentials.uid,
                    credentials.uid,
                ) < 0
            {
                fail(ChildStep::Credentials);
            }
        }

        // The Rust runtime ignores SIGPIPE; ignored dispositions survive exec. Restore the
        // default, and unblock every signal, as a freshly forked shell would have.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

        libc::execve(p.spec.program.as_ptr(), p.argv.as_ptr(), p.envp.as_ptr());
        report_and_exit(p.errors_write, ChildStep::Exec)
    }
}
