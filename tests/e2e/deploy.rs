//! `deploy/` checked offline (docker and a cluster cannot run here): the manifests parse, and
//! every reference between them and to the code holds: selectors match pod labels, probes and
//! services name ports that exist, config and secrets exist, the autoscaler targets a
//! Deployment on a metric the code exports, and every setting is one the code reads.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Every YAML document of `path`, as JSON values, with `<<` merge keys applied.
fn documents(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| {
            let mut value = serde_yaml_ng::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            value.apply_merge().expect("merge keys");
            serde_json::to_value(value).expect("JSON-compatible YAML")
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The documents a `kustomization.yaml` makes: its resources (files, or directories with a
/// kustomization of their own), then its patches: `$patch: delete` removes the resource it
/// names, any other patch is merged into the resource it names (maps key by key).
fn kustomize(dir: &Path) -> Vec<Value> {
    let kustomization = documents(&dir.join("kustomization.yaml"))
        .pop()
        .expect("kustomization");
    let mut docs = Vec::new();
    for resource in kustomization["resources"].as_array().expect("resources") {
        let path = dir.join(resource.as_str().expect("a path"));
        if path.is_dir() {
            docs.extend(kustomize(&path));
        } else {
            docs.extend(documents(&path));
        }
    }
    for patch in kustomization["patches"].as_array().into_iter().flatten() {
        let text = patch["patch"].as_str().expect("an inline patch");
        let patch: Value = serde_yaml_ng::from_str(text).expect("patch YAML");
        let same = |doc: &Value| {
            doc["kind"] == patch["kind"] && doc["metadata"]["name"] == patch["metadata"]["name"]
        };
        assert!(docs.iter().any(same), "the patch names nothing: {patch}");
        if patch["$patch"] == "delete" {
            docs.retain(|doc| !same(doc));
        } else {
            for doc in docs.iter_mut().filter(|doc| same(doc)) {
                merge(doc, &patch);
            }
        }
    }
    docs
}

/// `patch` merged into `target`: maps key by key, anything else replaced.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// deploy/k8s, as `kubectl apply -k deploy/k8s` applies it; its kustomization lists every
/// manifest there.
fn k8s() -> Vec<Value> {
    let dir = root().join("deploy/k8s");
    let listed: BTreeSet<String> = documents(&dir.join("kustomization.yaml"))[0]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("deploy/k8s")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .filter(|name| name != "kustomization.yaml")
        .collect();
    assert_eq!(
        listed, present,
        "deploy/k8s/kustomization.yaml lists every manifest"
    );
    kustomize(&dir)
}

fn named<'a>(docs: &'a [Value], kind: &str) -> HashMap<String, &'a Value> {
    docs.iter()
        .filter(|d| d["kind"] == kind)
        .map(|d| {
            (
                d["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                d,
            )
        })
        .collect()
}

/// Whether every label of `selector` is on `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| &labels[k] == v))
}

/// All the source of the workspace's crates, to check names against.
fn sources() -> String {
    let mut text = String::new();
    let mut stack = vec![root().join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                text.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    text
}

#[test]
fn the_kubernetes_manifests_hold_together() {
    let docs = k8s();
    assert_manifests_hold_together(&docs);
    let redis = named(&docs, "ConfigMap")
        .get("agentq-redis-config")
        .copied()
        .expect("redis config");
    let redis_conf = redis["data"]["redis.conf"].as_str().expect("redis.conf");
    assert!(redis_conf.contains("maxmemory-policy noeviction"));
    assert!(redis_conf.contains("appendonly yes"));
}

/// deploy/k8s/cluster: the same services on a Redis Cluster of six nodes, the single Redis
/// gone, the queue in partitions spread evenly over three masters, the autoscaler unchanged.
#[test]
fn the_kubernetes_cluster_variant_runs_the_stack_on_a_redis_cluster() {
    let docs = kustomize(&root().join("deploy/k8s/cluster"));
    assert_manifests_hold_together(&docs);
    for gone in ["agentq-redis", "agentq-redis-config"] {
        assert!(
            docs.iter().all(|d| d["metadata"]["name"] != gone),
            "{gone} is still there"
        );
    }
    let nodes = named(&docs, "StatefulSet")["agentq-redis-cluster"];
    assert_eq!(nodes["spec"]["replicas"], 6);
    let config_maps = named(&docs, "ConfigMap");
    let redis_conf = config_maps["agentq-redis-cluster-config"]["data"]["redis.conf"]
        .as_str()
        .expect("redis.conf");
    for line in [
        "cluster-enabled yes",
        "maxmemory-policy noeviction",
        "appendonly yes",
    ] {
        assert!(redis_conf.contains(line), "{line}");
    }
    let config = &config_maps["agentq-config"]["data"];
    let seeds: Vec<String> = (0..6)
        .map(|i| format!("agentq-redis-cluster-{i}.agentq-redis-cluster:6379"))
        .collect();
    assert_eq!(
        config["REDIS_URL"],
        format!("redis+cluster://{}", seeds.join(",")),
        "every node is a seed"
    );
    let partitions: u32 = config["AGENTQ_PARTITIONS"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .expect("AGENTQ_PARTITIONS");
    assert_eq!(partitions % 3, 0, "an even share for each of three masters");
    let create = named(&docs, "Job")["agentq-redis-cluster-create"].to_string();
    assert!(
        create.contains("--cluster-replicas 1"),
        "three masters, three replicas"
    );
    let base = k8s();
    assert_eq!(
        named(&docs, "ScaledObject"),
        named(&base, "ScaledObject"),
        "the workers' autoscaler is the same"
    );
}

fn assert_manifests_hold_together(docs: &[Value]) {
    for doc in docs {
        assert!(
            doc["apiVersion"].is_string() && doc["kind"].is_string(),
            "{doc}"
        );
        assert!(doc["metadata"]["name"].is_string(), "{doc}");
    }
    let config_maps = named(docs, "ConfigMap");
    let secrets = named(docs, "Secret");
    let mut workloads: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            ["Deployment", "StatefulSet", "Job"].contains(&d["kind"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(
        workloads.len() >= 5,
        "gateway, worker, broadcaster, redis, migrate"
    );
    let deployments = named(docs, "Deployment");
    for name in [
        "agentq-api-gateway",
        "agentq-queue-worker",
        "agentq-events-broadcaster",
    ] {
        assert!(deployments.contains_key(name), "{name}");
    }

    for workload in workloads.drain(..) {
        let name = &workload["metadata"]["name"];
        let template = &workload["spec"]["template"];
        if workload["kind"] != "Job" {
            assert!(
                selects(
                    &workload["spec"]["selector"]["matchLabels"],
                    &template["metadata"]["labels"]
                ),
                "{name}: the selector does not match the pod labels"
            );
        }
        for container in template["spec"]["containers"]
            .as_array()
            .expect("containers")
        {
            let ports: BTreeSet<&str> = container["ports"]
                .as_array()
                .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            assert!(
                container["resources"]["requests"].is_object(),
                "{name}: resource requests"
            );
            if workload["kind"] != "Job" {
                for probe in ["readinessProbe", "livenessProbe"] {
                    let probe = &container[probe];
                    assert!(probe.is_object(), "{name}: {probe}");
                    for port in [&probe["httpGet"]["port"], &probe["tcpSocket"]["port"]] {
                        if let Some(port) = port.as_str() {
                            assert!(ports.contains(port), "{name}: probe port {port}");
                        }
                    }
                }
            }
            for source in container["envFrom"].as_array().into_iter().flatten() {
                if let Some(map) = source["configMapRef"]["name"].as_str() {
                    assert!(config_maps.contains_key(map), "{name}: ConfigMap {map}");
                }
                if let Some(secret) = source["secretRef"]["name"].as_str() {
                    assert!(secrets.contains_key(secret), "{name}: Secret {secret}");
                }
            }
            if container["image"]
                .as_str()
                .is_some_and(|i| i.starts_with("agentq"))
            {
                let args: Vec<&str> = container["args"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                assert!(
                    ["api-gateway", "queue-worker", "events-broadcaster"].contains(&args[0]),
                    "{name}: runs {args:?}"
                );
                if workload["kind"] == "Job" {
                    assert_eq!(args, ["api-gateway", "migrate"], "the migration Job");
                }
                if workload["kind"] == "Deployment" {
                    let security = &template["spec"]["securityContext"];
                    assert_eq!(security["runAsNonRoot"], true, "{name}: non-root");
                }
            }
        }
    }

    for service in named(docs, "Service").values() {
        let selector = &service["spec"]["selector"];
        let target = docs
            .iter()
            .filter(|d| d["kind"] == "Deployment" || d["kind"] == "StatefulSet")
            .find(|d| selects(selector, &d["spec"]["template"]["metadata"]["labels"]))
            .unwrap_or_else(|| panic!("Service {} selects no pods", service["metadata"]["name"]));
        let ports: BTreeSet<&str> = target["spec"]["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            .filter_map(|p| p["name"].as_str())
            .collect();
        for port in service["spec"]["ports"].as_array().expect("ports") {
            let target_port = port["targetPort"].as_str().expect("named targetPort");
            assert!(
                ports.contains(target_port),
                "{}: {target_port}",
                service["metadata"]["name"]
            );
        }
    }
    for pdb in named(docs, "PodDisruptionBudget").values() {
        let selector = &pdb["spec"]["selector"]["matchLabels"];
        assert!(
            deployments
                .values()
                .any(|d| selects(selector, &d["spec"]["template"]["metadata"]["labels"])),
            "PDB {} protects nothing",
            pdb["metadata"]["name"]
        );
    }

    let code = sources();
    let scaled = named(docs, "ScaledObject");
    let worker_scaler = scaled
        .get("agentq-queue-worker")
        .expect("worker autoscaler");
    let target = worker_scaler["spec"]["scaleTargetRef"]["name"]
        .as_str()
        .expect("target");
    assert!(
        deployments.contains_key(target),
        "the autoscaler scales {target}"
    );
    let query = worker_scaler["spec"]["triggers"][0]["metadata"]["query"]
        .as_str()
        .expect("query");
    let metric = query
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|word| word.starts_with("agentq_"))
        .expect("an agentq metric");
    assert!(
        code.contains(&format!("\"{metric}\"")),
        "nothing exports {metric}"
    );

    // every setting in the ConfigMap and the Secret is one a binary reads
    let config = config_maps.get("agentq-config").expect("agentq-config");
    let secret = secrets.get("agentq-secrets").expect("agentq-secrets");
    for (key, _) in config["data"]
        .as_object()
        .into_iter()
        .chain(secret["stringData"].as_object())
        .flatten()
    {
        // RUST_LOG is read by tracing-subscriber itself
        assert!(
            key == "RUST_LOG" || code.contains(&format!("\"{key}\"")),
            "no binary reads {key}"
        );
    }
}

#[test]
fn the_compose_file_runs_the_whole_stack_with_health_checks() {
    let compose = documents(&root().join("deploy/docker-compose.yml"));
    let services = compose[0]["services"].as_object().expect("services");
    for name in [
        "redis",
        "mariadb",
        "api-gateway",
        "queue-worker",
        "events-broadcaster",
    ] {
        assert!(services.contains_key(name), "{name}");
    }
    let redis_command = services["redis"]["command"].to_string();
    assert!(redis_command.contains("appendonly") && redis_command.contains("noeviction"));
    assert_eq!(services["queue-worker"]["deploy"]["replicas"], 3);
    for name in ["redis", "mariadb", "api-gateway", "events-broadcaster"] {
        assert!(
            services[name]["healthcheck"]["test"].is_array(),
            "{name} health check"
        );
    }
    for name in ["api-gateway", "queue-worker", "events-broadcaster"] {
        let service = &services[name];
        assert_eq!(service["image"], "agentq:latest", "{name}");
        assert_eq!(service["command"][0], name, "{name}");
        let env = service["environment"].as_object().expect("environment");
        for key in [
            "REDIS_URL",
            "DATABASE_URL",
            "AGENTQ_JWT_SECRET",
            "AGENTQ_SECRET_KEY",
        ] {
            assert!(env.contains_key(key), "{name}: {key}");
        }
    }
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).expect("Dockerfile");
    let ignored = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    assert!(
        ignored.lines().any(|l| l.trim() == "target/"),
        "the build context leaves target/ out"
    );
    for needed in [
        "-p agentq-api-gateway",
        "-p agentq-queue-worker",
        "-p agentq-events-broadcaster",
        "USER 10001",
    ] {
        assert!(dockerfile.contains(needed), "Dockerfile: {needed}");
    }
}

/// deploy/docker-compose.cluster.yml over deploy/docker-compose.yml: six cluster nodes in
/// place of one Redis, created once before the services start, every service pointed at all
/// of them with the queue in partitions.
#[test]
fn the_compose_cluster_variant_runs_the_stack_on_a_redis_cluster() {
    let mut compose = documents(&root().join("deploy/docker-compose.yml")).remove(0);
    let cluster = documents(&root().join("deploy/docker-compose.cluster.yml")).remove(0);
    merge(&mut compose["services"], &cluster["services"]);
    let services = compose["services"].as_object().expect("services");
    let nodes = [
        "redis", "redis-2", "redis-3", "redis-4", "redis-5", "redis-6",
    ];
    for node in nodes {
        let command = services[node]["command"].to_string();
        for option in [
            "--cluster-enabled yes",
            "--maxmemory-policy noeviction",
            "--appendonly yes",
        ] {
            assert!(command.contains(option), "{node}: {option}");
        }
        assert!(services[node]["healthcheck"]["test"].is_array(), "{node}");
        assert_eq!(
            services["redis-cluster-create"]["depends_on"][node]["condition"],
            "service_healthy"
        );
    }
    assert!(
        services["redis-cluster-create"]["command"]
            .to_string()
            .contains("--cluster-replicas 1")
    );
    let seeds: Vec<String> = nodes.iter().map(|n| format!("{n}:6379")).collect();
    for name in ["api-gateway", "queue-worker", "events-broadcaster"] {
        let service = &services[name];
        let env = &service["environment"];
        assert_eq!(
            env["REDIS_URL"],
            format!("redis+cluster://{}", seeds.join(",")),
            "{name}"
        );
        assert_eq!(env["AGENTQ_PARTITIONS"], "12", "{name}");
        assert!(
            env["DATABASE_URL"].is_string(),
            "{name} keeps the rest of its settings"
        );
        assert_eq!(
            service["depends_on"]["redis-cluster-create"]["condition"],
            "service_completed_successfully",
            "{name}"
        );
    }
    assert_eq!(
        services["queue-worker"]["deploy"]["replicas"], 3,
        "the workers are the same"
    );
}
