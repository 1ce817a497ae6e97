//! Processes as `/proc` shows them: the process table, a container's process tree and
//! session, whether a pid is alive, and the cpu/memory usage of a set of processes
//! (upstream `src/usage/usage.cpp`, stout's `os::process`/`os::pstree`).

use std::collections::{BTreeMap, BTreeSet};

use mesos_core::v0::ResourceStatistics;

/// One process, from `/proc/<pid>/stat`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessInfo {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgid: i32,
    /// Its session.
    pub sid: i32,
    /// The state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// User time, in clock ticks.
    pub utime: u64,
    /// System time, in clock ticks.
    pub stime: u64,
    /// User time of waited-for children, in clock ticks.
    pub cutime: u64,
    /// System time of waited-for children, in clock ticks.
    pub cstime: u64,
    /// Threads.
    pub threads: u32,
    /// Resident set, in pages.
    pub rss_pages: u64,
    /// When it started, in clock ticks since boot: tells it apart from a later process that
    /// was given the same pid.
    pub start_time: u64,
}

impl ProcessInfo {
    /// A zombie (or dead) process: it runs no more, only waits to be reaped.
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the text of `/proc/<pid>/stat`.
pub fn parse_stat(pid: i32, text: &str) -> Option<ProcessInfo> {
    // The command name is in parentheses and may itself hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `fields[0]` is field 3 of proc(5) (state).
    let field = |n: usize| fields.get(n - 3).copied();
    let number = |n: usize| field(n)?.parse::<i64>().ok();
    Some(ProcessInfo {
        pid,
        state: field(3)?.chars().next()?,
        ppid: number(4)? as i32,
        pgid: number(5)? as i32,
        sid: number(6)? as i32,
        utime: number(14)? as u64,
        stime: number(15)? as u64,
        cutime: number(16)?.max(0) as u64,
        cstime: number(17)?.max(0) as u64,
        threads: number(20)? as u32,
        rss_pages: number(24)?.max(0) as u64,
        start_time: number(22)?.max(0) as u64,
    })
}

/// Reads one process, or `None` if it is gone.
pub fn process(pid: i32) -> Option<ProcessInfo> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &text)
}

/// True while `pid` exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    process(pid).is_some_and(|p| !p.is_zombie())
}

/// Every process of the host (of our pid namespace), by pid.
pub fn processes() -> BTreeMap<i32, ProcessInfo> {
    let mut table = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return table;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(info) = process(pid) {
            table.insert(pid, info);
        }
    }
    table
}

/// `root` and its descendants (by parent pid), from `table`.
pub fn tree(table: &BTreeMap<i32, ProcessInfo>, root: i32) -> Vec<ProcessInfo> {
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for p in table.values() {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Some(p) = table.get(&pid) {
            out.push(p.clone());
            if let Some(kids) = children.get(&pid) {
                stack.extend(kids.iter().copied());
            }
        }
    }
    out
}

/// A container's session: its id (the pid of the container's first process, which leads it)
/// and, when known, that process's start time.
///
/// Pids are reused (`pid_max` is often 32768), so a bare number could name someone else's
/// process once ours is gone. Linux does not hand out a pid while any process still has it as
/// its session id, so the members of session `sid` are ours as long as the process at `sid`
/// is ours (same start time) or gone; a process at `sid` with another start time means our
/// session emptied and the number went to someone else: nothing of it is ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    /// The session id: the pid of the first process.
    pub sid: i32,
    /// The first process's start time, when it was read while the process was surely ours.
    pub leader_start: Option<u64>,
}

impl Session {
    /// The session led by `pid`, a process we just started (and still hold unreaped).
    pub fn started(pid: i32) -> Session {
        Session {
            sid: pid,
            leader_start: process(pid).map(|p| p.start_time),
        }
    }

    /// The session of a container recovered from a checkpointed `pid`: its start time is
    /// taken only if the process there still leads a session of its own number.
    pub fn recovered(pid: i32) -> Session {
        Session {
            sid: pid,
            leader_start: process(pid).filter(|p| p.sid == pid).map(|p| p.start_time),
        }
    }

    /// Whether the process at `sid` in `table`, if any, is this session's leader; `None` when
    /// there is no process at `sid`.
    pub fn leader_is_ours(&self, table: &BTreeMap<i32, ProcessInfo>) -> Option<bool> {
        let leader = table.get(&self.sid)?;
        Some(match self.leader_start {
            Some(start) => leader.start_time == start,
            None => false,
        })
    }

    /// Whether `p` may belong to this session's container: started no earlier than its
    /// leader.
    pub fn may_own(&self, p: &ProcessInfo) -> bool {
        self.leader_start.is_none_or(|start| p.start_time >= start)
    }
}

/// The living processes of a container started in its own `session`: the members of the
/// session, plus the descendants of its first process while that process is ours (see
/// [`Session`]); nothing when the pid now names another process.
pub fn session_members(table: &BTreeMap<i32, ProcessInfo>, session: Session) -> Vec<i32> {
    let sid = session.sid;
    let leader_is_ours = match session.leader_is_ours(table) {
        Some(false) => return Vec::new(),
        Some(true) => true,
        None => false,
    };
    let mut members: BTreeSet<i32> = table
        .values()
        .filter(|p| p.sid == sid && session.may_own(p))
        .map(|p| p.pid)
        .collect();
    if leader_is_ours {
        members.extend(tree(table, sid).iter().map(|p| p.pid));
    }
    members
        .into_iter()
        .filter(|pid| table.get(pid).is_some_and(|p| !p.is_zombie()))
        .collect()
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn clock_ticks() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as f64
}

/// The page size (`sysconf(_SC_PAGESIZE)`).
pub fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .filter(|s| *s > 0)
        .unwrap_or(4096) as u64
}

/// Which statistics to fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageKinds {
    /// `cpus_user_time_secs`, `cpus_system_time_secs`.
    pub cpus: bool,
    /// `mem_rss_bytes`.
    pub mem: bool,
}

/// The usage of `processes` summed: cpu times (their own and their waited-for children's)
/// and resident memory, plus process and thread counts.
pub fn usage_of(processes: &[ProcessInfo], kinds: UsageKinds) -> ResourceStatistics {
    let mut stats = ResourceStatistics {
        processes: Some(processes.len() as u32),
        threads: Some(processes.iter().map(|p| p.threads).sum()),
        ..Default::default()
    };
    if kinds.cpus {
        let ticks = clock_ticks();
        let user: u64 = processes.iter().map(|p| p.utime + p.cutime).sum();
        let system: u64 = processes.iter().map(|p| p.stime + p.cstime).sum();
        stats.cpus_user_time_secs = Some(user as f64 / ticks);
        stats.cpus_system_time_secs = Some(system as f64 / ticks);
    }
    if kinds.mem {
        let pages: u64 = processes.iter().map(|p| p.rss_pages).sum();
        stats.mem_rss_bytes = Some(pages * page_size());
    }
    stats
}

/// The usage of the process tree rooted at `pid` (empty figures if it is gone).
pub fn tree_usage(pid: i32, kinds: UsageKinds) -> ResourceStatistics {
    usage_of(&tree(&processes(), pid), kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_names() {
        let text = "42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 3 0 \
                    12345 1000000 250 18446744073709551615";
        let p = parse_stat(42, text).unwrap();
        assert_eq!((p.ppid, p.pgid, p.sid, p.state), (1, 42, 42, 'S'));
        assert_eq!((p.utime, p.stime, p.cutime, p.cstime), (7, 3, 2, 1));
        assert_eq!((p.threads, p.rss_pages), (3, 250));
        assert_eq!(p.start_time, 12345);
    }

    fn proc(pid: i32, ppid: i32, pgid: i32, sid: i32, start_time: u64) -> ProcessInfo {
        ProcessInfo {
            pid,
            ppid,
            pgid,
            sid,
            state: 'S',
            utime: 0,
            stime: 0,
            cutime: 0,
            cstime: 0,
            threads: 1,
            rss_pages: 0,
            start_time,
        }
    }

    fn table(procs: &[ProcessInfo]) -> BTreeMap<i32, ProcessInfo> {
        procs.iter().map(|p| (p.pid, p.clone())).collect()
    }

    #[test]
    fn a_session_is_its_members_and_its_leaders_descendants() {
        let ours = Session {
            sid: 100,
            leader_start: Some(50),
        };
        let t = table(&[
            proc(100, 1, 100, 100, 50),   // the leader
            proc(101, 100, 100, 100, 51), // a member
            proc(102, 100, 102, 102, 52), // a descendant that called setsid
            proc(200, 1, 100, 7, 10),     // in process group 100 of another session: not ours
            proc(300, 1, 300, 300, 60),   // unrelated
        ]);
        assert_eq!(session_members(&t, ours), vec![100, 101, 102]);
    }

    #[test]
    fn a_reused_pid_makes_nothing_ours() {
        let ours = Session {
            sid: 100,
            leader_start: Some(50),
        };
        // Our session emptied; pid 100 now leads someone else's process group and session.
        let t = table(&[
            proc(100, 1, 100, 100, 900),
            proc(101, 100, 100, 100, 901),
            proc(102, 1, 100, 55, 902),
        ]);
        assert!(session_members(&t, ours).is_empty());
    }

    #[test]
    fn members_outlive_their_leader() {
        let ours = Session {
            sid: 100,
            leader_start: Some(50),
        };
        // The leader is gone; a daemonised member is still in the session (so the number
        // cannot have been reused); an older process with that sid cannot be ours.
        let t = table(&[proc(101, 1, 101, 100, 70), proc(103, 1, 103, 100, 40)]);
        assert_eq!(session_members(&t, ours), vec![101]);
    }

    #[test]
    fn our_own_process_is_alive_and_in_its_tree() {
        let me = std::process::id() as i32;
        assert!(is_alive(me));
        let table = processes();
        assert!(tree(&table, me).iter().any(|p| p.pid == me));
        let stats = usage_of(
            &tree(&table, me),
            UsageKinds {
                cpus: true,
                mem: true,
            },
        );
        assert!(stats.mem_rss_bytes.unwrap() > 0);
    }
}
