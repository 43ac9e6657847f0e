//! Real Redis servers for the Redis engine's tests: each test starts its own
//! `redis-server` (or a 3-node cluster) on free loopback ports, in a temporary
//! folder, and stops it (kill + wait) when dropped.
//!
//! Tests that need a server carry
//! `#[cfg_attr(not(redis_server), ignore = "...")]`: `cfg(redis_server)` is
//! set by engines/build.rs when `redis-server` is on PATH, so without it they
//! show as ignored with the reason, never as passed.

#![allow(dead_code)] // each test binary uses a subset

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a server or cluster may take to come up.
const STARTUP: Duration = Duration::from_secs(15);

/// A loopback port free now, with its cluster-bus port (+10000) free too.
fn free_port() -> u16 {
    for _ in 0..200 {
        let Ok(l) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = l.local_addr() else { continue };
        // Ephemeral ports may sit above 55535; take the offset below instead.
        let port = 20_000 + addr.port() % 25_000;
        drop(l);
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
        {
            return port;
        }
    }
    panic!("no free loopback port found");
}

fn temp_dir(tag: &str) -> PathBuf {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "socialbench-redis-{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    dir
}

fn query(port: u16, args: &[&str]) -> Result<redis::Value, String> {
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{port}")).map_err(|e| e.to_string())?;
    let mut c = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .map_err(|e| e.to_string())?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(&mut c).map_err(|e| e.to_string())
}

/// Polls `ready` every 20 ms until it holds or the deadline passes.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + STARTUP;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One `redis-server` process.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a standalone server and waits until it answers PING.
    pub fn start() -> RedisServer {
        Self::spawn(&[])
    }

    fn spawn(extra: &[&str]) -> RedisServer {
        let port = free_port();
        let dir = temp_dir("node");
        let port_s = port.to_string();
        let dir_s = dir.display().to_string();
        let log = dir.join("redis.log").display().to_string();
        let mut args = vec![
            "--port",
            &port_s,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir_s,
            "--logfile",
            &log,
        ];
        args.extend_from_slice(extra);
        let child = Command::new("redis-server")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (is it installed? apt-get install redis-server)");
        let server = RedisServer {
            child: Some(child),
            port,
            dir,
        };
        wait_until(
            &format!("redis-server on port {port}"),
            || matches!(query(port, &["PING"]), Ok(redis::Value::SimpleString(ref s)) if s == "PONG"),
        );
        server
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs one command against it.
    pub fn query(&self, args: &[&str]) -> Result<redis::Value, String> {
        query(self.port, args)
    }

    /// Kills the server now (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A 3-master Redis Cluster on loopback, with or without replicas.
pub struct RedisCluster {
    /// The nodes: the masters first, then their replicas.
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts 3 nodes, creates the cluster with `redis-cli --cluster create`,
    /// and waits until every node says `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        Self::create(0, 5000)
    }

    /// 3 masters with one replica each and a short `cluster-node-timeout`
    /// (`node_timeout_ms`), so that a killed master fails over within a
    /// second or two; waits until every master has its replica in sync.
    pub fn with_replicas(node_timeout_ms: u32) -> RedisCluster {
        Self::create(1, node_timeout_ms)
    }

    fn create(replicas: usize, node_timeout_ms: u32) -> RedisCluster {
        let timeout = node_timeout_ms.to_string();
        let nodes: Vec<RedisServer> = (0..3 * (1 + replicas))
            .map(|_| {
                RedisServer::spawn(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    &timeout,
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for n in &nodes {
            wait_until(&format!("cluster_state:ok on {}", n.port), || {
                matches!(n.query(&["CLUSTER", "INFO"]),
                    Ok(redis::Value::BulkString(ref b)) if String::from_utf8_lossy(b).contains("cluster_state:ok"))
            });
        }
        let cluster = RedisCluster { nodes };
        if replicas > 0 {
            // `redis-cli --cluster create` lists the masters first.
            for m in &cluster.nodes[..3] {
                wait_until(&format!("a replica in sync with {}", m.port), || {
                    let info = m.query(&["INFO", "replication"]);
                    matches!(info, Ok(redis::Value::BulkString(ref b))
                        if String::from_utf8_lossy(b).contains("state=online"))
                });
            }
            // Every node lists the replicas in CLUSTER SLOTS.
            for n in &cluster.nodes {
                wait_until(&format!("replicas in CLUSTER SLOTS of {}", n.port), || {
                    matches!(n.query(&["CLUSTER", "SLOTS"]), Ok(redis::Value::Array(ref ranges))
                        if ranges.iter().all(|r| matches!(r, redis::Value::Array(r) if r.len() >= 4)))
                });
            }
        }
        cluster
    }

    /// The seed list, `host:port,...`.
    pub fn seeds(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect()
    }

    /// The node serving slot 0 now (a master), by its place in `nodes`.
    pub fn master_of_slot_zero(&self) -> usize {
        let port = |n: &RedisServer| n.port;
        for n in &self.nodes {
            if let Ok(redis::Value::Array(ranges)) = n.query(&["CLUSTER", "SLOTS"]) {
                for r in ranges {
                    if let redis::Value::Array(r) = r
                        && matches!(r.first(), Some(redis::Value::Int(0)))
                        && let Some(redis::Value::Array(m)) = r.get(2)
                        && let Some(redis::Value::Int(p)) = m.get(1)
                    {
                        return self
                            .nodes
                            .iter()
                            .position(|n| i64::from(port(n)) == *p)
                            .expect("a node of the cluster");
                    }
                }
            }
        }
        panic!("no node answers CLUSTER SLOTS");
    }
}
