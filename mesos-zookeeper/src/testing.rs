//! A real ZooKeeper server for tests, and a TCP proxy to cut a client off from it.
//!
//! [`ZooKeeperServer::start`] runs Debian's ZooKeeper jars (`java ... ZooKeeperServerMain
//! <config>`) on a free loopback port with a temporary data directory, and returns once the
//! server answers `srvr`. It returns `None`, with the reason printed, when Java or the jars are
//! missing, so tests can skip. The JVM is killed on drop, also when a test panics.
//!
//! The server ticks every 200 ms, so session timeouts from 0.4 s up to 60 s are granted as
//! asked (a stock server would stretch a 2 s timeout to 6 s).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::url::ZkUrl;

/// The jars of Debian's `zookeeper` package that the server needs, in `/usr/share/java`.
const JARS: &[&str] = &[
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "slf4j-api.jar",
    "slf4j-nop.jar",
    "netty-handler.jar",
    "netty-common.jar",
    "netty-buffer.jar",
    "netty-transport.jar",
    "netty-resolver.jar",
    "netty-codec.jar",
    "netty-transport-native-epoll.jar",
    "netty-transport-native-unix-common.jar",
];

const JAVA_DIR: &str = "/usr/share/java";

/// A ZooKeeper server (standalone) for tests.
#[derive(Debug)]
pub struct ZooKeeperServer {
    port: u16,
    dir: PathBuf,
    classpath: String,
    java: PathBuf,
    child: Mutex<Option<Child>>,
}

impl ZooKeeperServer {
    /// Starts a server; `None` (with the reason printed) when it cannot run here.
    pub fn start() -> Option<ZooKeeperServer> {
        let java = ["/usr/bin/java", "/usr/lib/jvm/default-java/bin/java"]
            .iter()
            .map(PathBuf::from)
            .find(|path| path.exists());
        let Some(java) = java else {
            eprintln!(
                "skipping: no Java to run ZooKeeper (install default-jre-headless and zookeeper)"
            );
            return None;
        };
        let mut classpath = Vec::new();
        for jar in JARS {
            let path = Path::new(JAVA_DIR).join(jar);
            if !path.exists() {
                eprintln!(
                    "skipping: {} is missing (install Debian's zookeeper package)",
                    path.display()
                );
                return None;
            }
            classpath.push(path.display().to_string());
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("mesos-zk-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("data")).expect("cannot create the ZooKeeper data dir");
        let config = format!(
            "tickTime=200\ninitLimit=10\nsyncLimit=5\nminSessionTimeout=400\nmaxSessionTimeout=60000\n\
             dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
             4lw.commands.whitelist=srvr,ruok\nmaxClientCnxns=0\n",
            dir.join("data").display()
        );
        std::fs::write(dir.join("zoo.cfg"), config).expect("cannot write zoo.cfg");
        let server = ZooKeeperServer {
            port,
            dir,
            classpath: classpath.join(":"),
            java,
            child: Mutex::new(None),
        };
        if let Err(reason) = server.launch() {
            eprintln!("skipping: ZooKeeper does not start: {reason}");
            return None;
        }
        Some(server)
    }

    fn launch(&self) -> Result<(), String> {
        // The JVM runs under a small shell that kills it once this test process is gone, so a
        // server kept in a `static` (never dropped) does not outlive its tests. Both run in a
        // process group of their own, which `stop` kills whole.
        let java = format!(
            "'{}' -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp '{}' \\
             org.apache.zookeeper.server.ZooKeeperServerMain '{}'",
            self.java.display(),
            self.classpath,
            self.dir.join("zoo.cfg").display()
        );
        let script = format!(
            "{java} & j=$!; while kill -0 {parent} 2>/dev/null && kill -0 $j 2>/dev/null; do sleep 0.5; done; \\
             kill -9 $j 2>/dev/null",
            parent = std::process::id()
        );
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run java: {e}"))?;
        *self.child.lock() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.answers() {
                return Ok(());
            }
            if let Some(child) = self.child.lock().as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("the JVM exited: {status}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.stop();
        Err("no answer to 'srvr' within 30 s".to_owned())
    }

    /// Whether the server answers the `srvr` four-letter word.
    fn answers(&self) -> bool {
        let Ok(mut stream) =
            TcpStream::connect_timeout(&self.address(), Duration::from_millis(500))
        else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream.write_all(b"srvr").is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.contains("Zookeeper version") && answer.contains("Mode")
    }

    /// The server's address.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `127.0.0.1:port`.
    pub fn connect_string(&self) -> String {
        self.address().to_string()
    }

    /// `zk://127.0.0.1:port<path>`.
    pub fn url(&self, path: &str) -> ZkUrl {
        ZkUrl::parse(&format!("zk://{}{path}", self.connect_string())).expect("a valid test URL")
    }

    /// Kills the server (its data stays).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().take() {
            // The whole group: the shell and the JVM.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts the server again on the same port and data: sessions survive a quick
    /// restart.
    pub fn restart(&self) {
        self.stop();
        self.launch().expect("ZooKeeper does not start again");
    }
}

impl Drop for ZooKeeperServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free loopback port (bound and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("cannot find a free port")
}

/// A TCP forwarder to a server, to partition the clients that connect through it.
#[derive(Debug)]
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<ProxyShared>,
}

#[derive(Debug)]
struct ProxyShared {
    target: SocketAddr,
    cut: AtomicBool,
    closed: AtomicBool,
    connections: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    /// Starts forwarding a free loopback port to `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(ProxyShared {
            target,
            cut: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let accepting = shared.clone();
        std::thread::Builder::new()
            .name("zk-test-proxy".into())
            .spawn(move || accept(listener, accepting))
            .expect("cannot start the proxy thread");
        Proxy { address, shared }
    }

    /// The proxy's address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `127.0.0.1:port` of the proxy.
    pub fn connect_string(&self) -> String {
        self.address.to_string()
    }

    /// `zk://<proxy><path>`.
    pub fn url(&self, path: &str) -> ZkUrl {
        ZkUrl::parse(&format!("zk://{}{path}", self.connect_string())).expect("a valid test URL")
    }

    /// Drops the live connections and closes new ones at once, until [`Self::heal`].
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        for stream in self.shared.connections.lock().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Forwards new connections again.
    pub fn heal(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.cut();
        // Wake the accepting thread so it sees `closed`.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_millis(100));
    }
}

fn accept(listener: TcpListener, shared: Arc<ProxyShared>) {
    for incoming in listener.incoming() {
        if shared.closed.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = incoming else { continue };
        if shared.cut.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(server) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(1)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        {
            let mut connections = shared.connections.lock();
            connections.retain(|stream| stream.peer_addr().is_ok());
            if let (Ok(a), Ok(b)) = (client.try_clone(), server.try_clone()) {
                connections.push(a);
                connections.push(b);
            }
        }
        std::thread::spawn(move || pump(client, server2));
        std::thread::spawn(move || pump(server, client2));
    }
}

/// Copies `from` to `to` until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
