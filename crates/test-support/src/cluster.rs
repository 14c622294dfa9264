//! A Redis Cluster of a test's own: 3 masters and 3 replicas (or none) of `redis-server
//! --cluster-enabled yes` on loopback, created with `redis-cli --cluster create`, for tests
//! that kill a master. It keeps nothing on disk but the nodes' cluster files, and stops when
//! dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agentq_domain::JobId;

/// How long the nodes wait for a silent master before its replica takes over.
const NODE_TIMEOUT_MS: &str = "1000";

#[derive(Debug)]
pub struct OwnCluster {
    /// (client port, process); `None` once killed.
    nodes: Vec<(u16, Option<Child>)>,
    /// Each node's cluster bus port, by client port (a restarted node needs its own again).
    buses: Vec<(u16, u16)>,
    dir: PathBuf,
}

impl OwnCluster {
    /// 3 masters, each with a replica.
    pub fn start() -> Self {
        Self::with_replicas(1)
    }

    /// 3 masters and nothing else: a cluster that cannot fail over.
    pub fn without_replicas() -> Self {
        Self::with_replicas(0)
    }

    fn with_replicas(per_master: usize) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "agentq-cluster-{}",
            JobId::new().as_uuid().simple()
        ));
        // each node needs two free ports: clients and the cluster bus
        let ports = free_ports(2 * 3 * (1 + per_master));
        let buses: Vec<(u16, u16)> = ports.chunks(2).map(|pair| (pair[0], pair[1])).collect();
        let nodes = buses
            .iter()
            .map(|&(port, bus)| (port, Some(spawn_node(&dir, port, bus))))
            .collect();
        let cluster = Self { nodes, buses, dir };
        for port in cluster.ports() {
            cluster.wait_for(|| cli(port, &["PING"]).is_some(), "a node to start");
        }
        let addresses: Vec<String> = cluster
            .ports()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args([
                "--cluster-replicas",
                &per_master.to_string(),
                "--cluster-yes",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli");
        assert!(created.success(), "redis-cli --cluster create failed");
        cluster.wait_until_healthy();
        cluster
    }

    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .ports()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes.iter().map(|(port, _)| *port)
    }

    fn live_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .filter(|(_, child)| child.is_some())
            .map(|(port, _)| *port)
    }

    /// The port of the master that serves `key`, as the live nodes see it.
    pub fn master_of(&self, key: &str) -> u16 {
        let node = self.live_ports().next().expect("a live node");
        let slot: u16 = cli(node, &["CLUSTER", "KEYSLOT", key])
            .and_then(|s| s.trim().parse().ok())
            .expect("keyslot");
        let nodes = cli(node, &["CLUSTER", "NODES"]).expect("cluster nodes");
        nodes
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let serves = fields.iter().skip(8).any(|range| {
                    let (from, to) = range.split_once('-').unwrap_or((range, range));
                    match (from.parse::<u16>(), to.parse::<u16>()) {
                        (Ok(from), Ok(to)) => (from..=to).contains(&slot),
                        _ => false,
                    }
                });
                let port = client_port(fields.get(1)?)?;
                serves.then_some(port)
            })
            .expect("a master serves the slot")
    }

    /// How many times the live nodes together ran `command` (`INFO commandstats`).
    pub fn calls(&self, command: &str) -> u64 {
        let prefix = format!("cmdstat_{}:calls=", command.to_lowercase());
        self.live_ports()
            .filter_map(|port| cli(port, &["INFO", "commandstats"]))
            .flat_map(|info| {
                info.lines()
                    .filter_map(|line| line.strip_prefix(&prefix)?.split(',').next()?.parse().ok())
                    .collect::<Vec<u64>>()
            })
            .sum()
    }

    /// Makes every live node forget the scripts it was sent (`SCRIPT FLUSH`), as a restarted
    /// node or a new one has none.
    pub fn flush_scripts(&self) {
        for port in self.live_ports() {
            cli(port, &["SCRIPT", "FLUSH"]).expect("script flush");
        }
    }

    /// `kill -9` of one node; the cluster's other nodes notice and promote its replica.
    pub fn kill(&mut self, port: u16) {
        let (_, child) = self
            .nodes
            .iter_mut()
            .find(|(p, _)| *p == port)
            .expect("a node of this cluster");
        if let Some(mut child) = child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed node again, on its ports and with its cluster file: it rejoins as it
    /// was (a replica loads its master's data again).
    pub fn restart(&mut self, port: u16) {
        let bus = self
            .buses
            .iter()
            .find_map(|&(p, bus)| (p == port).then_some(bus))
            .expect("a node of this cluster");
        let (_, slot) = self
            .nodes
            .iter_mut()
            .find(|(p, _)| *p == port)
            .expect("a node of this cluster");
        assert!(slot.is_none(), "node {port} is running: kill it first");
        *slot = Some(spawn_node(&self.dir, port, bus));
        self.wait_for(|| cli(port, &["PING"]).is_some(), "a node to restart");
    }

    /// The port of a replica of the master at `master`.
    pub fn replica_of(&self, master: u16) -> u16 {
        let node = self.live_ports().next().expect("a live node");
        let nodes = cli(node, &["CLUSTER", "NODES"]).expect("cluster nodes");
        let id_of = |port: u16| {
            nodes.lines().find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (client_port(fields.get(1)?)? == port).then(|| fields[0].to_owned())
            })
        };
        let master_id = id_of(master).expect("the master is a node");
        nodes
            .lines()
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (fields.get(3) == Some(&master_id.as_str())).then(|| client_port(fields.get(1)?))?
            })
            .expect("the master has a replica")
    }

    /// How many replicas the master at `port` has connected (`INFO replication`).
    pub fn replicas_connected(&self, port: u16) -> usize {
        cli(port, &["INFO", "replication"])
            .and_then(|info| {
                info.lines()
                    .find_map(|line| line.trim().strip_prefix("connected_slaves:")?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// Waits until every live node says the cluster is whole again and every live replica
    /// is in sync with its master.
    pub fn wait_until_healthy(&self) {
        self.wait_for(
            || {
                self.live_ports().all(|port| {
                    cli(port, &["CLUSTER", "INFO"])
                        .is_some_and(|info| info.contains("cluster_state:ok"))
                        && cli(port, &["INFO", "replication"]).is_some_and(|info| {
                            info.contains("role:master") || info.contains("master_link_status:up")
                        })
                })
            },
            "the cluster to be healthy",
        );
    }

    fn wait_for(&self, done: impl Fn() -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            if let Some(child) = child.as_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The client port of a `CLUSTER NODES` address (`ip:port@bus-port`).
fn client_port(address: &str) -> Option<u16> {
    address.split(['@', ':']).nth(1)?.parse().ok()
}

/// One node of a cluster, its files in `dir/<port>`.
fn spawn_node(dir: &std::path::Path, port: u16, bus: u16) -> Child {
    let node_dir = dir.join(port.to_string());
    std::fs::create_dir_all(&node_dir).expect("cluster dir");
    Command::new("redis-server")
        .args(["--port", &port.to_string()])
        .args(["--cluster-port", &bus.to_string()])
        .args(["--bind", "127.0.0.1", "--cluster-enabled", "yes"])
        .args(["--cluster-node-timeout", NODE_TIMEOUT_MS])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&node_dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed")
}

/// Runs a command with redis-cli against one node; its output, if it answered.
fn cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && !text.starts_with("Could not connect")).then_some(text)
}

/// Ports the OS says are free now, all held at once so that none repeats.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}
