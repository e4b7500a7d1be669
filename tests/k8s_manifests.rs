//! Every manifest in k8s/ parses into its k8s-openapi type with no field
//! the type does not know (a typo would be dropped silently by the API
//! server's client tooling: here it fails), and the pieces fit together: the
//! Role grants exactly the backend's PERMISSIONS, the StatefulSets carry the
//! partition sidecar the backend execs into, the disk variants start the
//! system on the fault filesystem the way the backend recognises, the
//! CronJob runs the harness under the ServiceAccount with its results on
//! the claim.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chaos::backends::k8s::discover::wrapper;
use chaos::backends::k8s::{PERMISSIONS, PROCESS_ANNOTATION, SIDECAR};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn k8s_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("k8s")
}

/// Every object of every YAML file in k8s/: (file, kind, object).
fn objects() -> Vec<(String, String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(k8s_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "k8s/ has {files:?}");
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", file.display()));
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            out.push((name.clone(), kind, doc));
        }
    }
    out
}

/// Parse into `T`, and check that nothing was lost on the way: the typed
/// object serialises back to exactly the manifest.
fn check<T: DeserializeOwned + Serialize>(file: &str, doc: &Value) -> Result<T, String> {
    let what = format!("{file}: {} {}", doc["kind"], doc["metadata"]["name"]);
    let object: T =
        serde_json::from_value(doc.clone()).map_err(|e| format!("{what} does not parse: {e}"))?;
    let back = serde_json::to_value(&object).unwrap();
    match difference(doc, &back, String::new()) {
        Some(at) => Err(format!(
            "{what}: {at} (a field unknown to its type: a typo?)"
        )),
        None => Ok(object),
    }
}

fn typed<T: DeserializeOwned + Serialize>(file: &str, doc: &Value) -> T {
    check(file, doc).unwrap_or_else(|e| panic!("{e}"))
}

/// Where `read` (the manifest) and `back` (the typed object serialised)
/// first differ, as a path.
fn difference(read: &Value, back: &Value, at: String) -> Option<String> {
    match (read, back) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| {
                let path = format!("{at}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => difference(x, y, path),
                    (Some(_), None) => Some(format!("{path} is dropped")),
                    (None, _) => Some(format!("{path} is added")),
                }
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| difference(x, y, format!("{at}[{i}]"))),
        _ if read == back => None,
        _ => Some(format!("{at}: {read} reads back as {back}")),
    }
}

fn all<T: DeserializeOwned + Serialize>(kind: &str) -> Vec<T> {
    objects()
        .iter()
        .filter(|(_, k, _)| k == kind)
        .map(|(file, _, doc)| typed(file, doc))
        .collect()
}

#[test]
fn every_manifest_parses_into_its_type() {
    let objects = objects();
    let mut kinds = BTreeSet::new();
    for (file, kind, doc) in &objects {
        match kind.as_str() {
            "Service" => drop(typed::<Service>(file, doc)),
            "StatefulSet" => drop(typed::<StatefulSet>(file, doc)),
            "ServiceAccount" => drop(typed::<ServiceAccount>(file, doc)),
            "Role" => drop(typed::<Role>(file, doc)),
            "RoleBinding" => drop(typed::<RoleBinding>(file, doc)),
            "CronJob" => drop(typed::<CronJob>(file, doc)),
            "PersistentVolumeClaim" => drop(typed::<PersistentVolumeClaim>(file, doc)),
            other => panic!("{file}: kind {other:?} has no check here: add one"),
        }
        kinds.insert(kind.clone());
    }
    let wanted = [
        "CronJob",
        "PersistentVolumeClaim",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    ];
    assert_eq!(kinds, wanted.iter().map(|k| k.to_string()).collect());
}

#[test]
fn a_typo_in_a_manifest_is_caught() {
    // The check above would pass a manifest the types silently ignore part of.
    let doc: Value = serde_saphyr::from_str(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\n  lables: {a: b}\n",
    )
    .unwrap();
    let e = check::<ServiceAccount>("test", &doc).expect_err("a typo must fail");
    assert_eq!(
        e,
        "test: \"ServiceAccount\" \"x\": .metadata.lables is dropped (a field unknown to its type: a typo?)"
    );
}

#[test]
fn the_role_grants_exactly_the_permissions_the_backend_declares() {
    let roles: Vec<Role> = all("Role");
    assert_eq!(roles.len(), 1, "one Role, for the harness");
    let mut granted = BTreeSet::new();
    for rule in roles[0].rules.iter().flatten() {
        assert!(
            rule.resource_names.is_none() && rule.non_resource_urls.is_none(),
            "{rule:?}"
        );
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    assert_ne!(verb, "*", "no wildcard verbs");
                    granted.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    let declared: BTreeSet<(String, String, String)> = PERMISSIONS
        .iter()
        .map(|p| (p.api_group.into(), p.resource.into(), p.verb.into()))
        .collect();
    assert_eq!(granted, declared);
    // Bound to the harness's ServiceAccount, in the namespace (a Role, not
    // a ClusterRole).
    let bindings: Vec<RoleBinding> = all("RoleBinding");
    let accounts: Vec<ServiceAccount> = all("ServiceAccount");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].role_ref.kind, "Role");
    assert_eq!(
        Some(&bindings[0].role_ref.name),
        roles[0].metadata.name.as_ref()
    );
    let subjects = bindings[0].subjects.clone().unwrap_or_default();
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0].kind, "ServiceAccount");
    assert_eq!(Some(&subjects[0].name), accounts[0].metadata.name.as_ref());
}

#[test]
fn clusters_under_test_carry_the_partition_sidecar() {
    let sets: Vec<StatefulSet> = all("StatefulSet");
    let services: Vec<Service> = all("Service");
    let names: BTreeSet<String> = sets
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    assert_eq!(
        names,
        ["etcd", "etcd-disk", "nats", "nats-disk"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    for set in &sets {
        let name = set.metadata.name.clone().unwrap();
        let spec = set.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(3), "{name}");
        // Its headless Service exists and selects its pods.
        let service = services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(spec.service_name.as_deref().unwrap()))
            .unwrap_or_else(|| panic!("{name}: no Service {:?}", spec.service_name));
        let service_spec = service.spec.as_ref().unwrap();
        assert_eq!(
            service_spec.cluster_ip.as_deref(),
            Some("None"),
            "{name}: headless"
        );
        assert_eq!(
            service_spec.publish_not_ready_addresses,
            Some(true),
            "{name}"
        );
        assert_eq!(service_spec.selector, spec.selector.match_labels, "{name}");
        let template = &spec.template;
        let pod = template.spec.as_ref().unwrap();
        assert_eq!(
            pod.share_process_namespace,
            Some(true),
            "{name}: pause needs it"
        );
        let annotations = template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .clone()
            .unwrap();
        assert!(annotations.contains_key(PROCESS_ANNOTATION), "{name}");
        let sidecar = pod
            .containers
            .iter()
            .find(|c| c.name == SIDECAR)
            .unwrap_or_else(|| panic!("{name}: no {SIDECAR} container"));
        let caps = sidecar
            .security_context
            .as_ref()
            .and_then(|s| s.capabilities.as_ref())
            .and_then(|c| c.add.clone())
            .unwrap_or_default();
        // NET_ADMIN: iptables, tc and the delayer's NFQUEUE; NET_RAW: the
        // delayer's raw socket for duplicates; KILL: pause and resume.
        for cap in ["NET_ADMIN", "NET_RAW", "KILL"] {
            assert!(caps.contains(&cap.to_string()), "{name}: {cap} in {caps:?}");
        }
        // Exactly one other container: the system, found without --container.
        assert_eq!(pod.containers.len(), 2, "{name}");
    }
}

#[test]
fn the_nightly_cronjob_runs_the_k8s_backend_with_results_on_a_claim() {
    let jobs: Vec<CronJob> = all("CronJob");
    let claims: Vec<PersistentVolumeClaim> = all("PersistentVolumeClaim");
    let accounts: Vec<ServiceAccount> = all("ServiceAccount");
    assert_eq!(jobs.len(), 1);
    let spec = jobs[0].spec.as_ref().unwrap();
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    let pod = spec
        .job_template
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    assert_eq!(pod.service_account_name, accounts[0].metadata.name);
    let container = &pod.containers[0];
    let args = container.args.clone().unwrap();
    assert_eq!(args[0], "run");
    assert!(args.contains(&"--backend=k8s".to_string()), "{args:?}");
    assert!(
        args.iter().any(|a| a.starts_with("--selector=")),
        "{args:?}"
    );
    // The harness knows its own pod, so it never acts on it.
    let env: Vec<String> = container
        .env
        .iter()
        .flatten()
        .map(|e| e.name.clone())
        .collect();
    assert!(env.contains(&"POD_NAME".to_string()), "{env:?}");
    // --results is where the claim is mounted.
    let results = args
        .iter()
        .find_map(|a| a.strip_prefix("--results="))
        .expect("--results");
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == results)
        .expect("a volume mounted at --results");
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .unwrap();
    let claim = &volume.persistent_volume_claim.as_ref().unwrap().claim_name;
    assert!(
        claims
            .iter()
            .any(|c| c.metadata.name.as_ref() == Some(claim)),
        "claim {claim} is declared"
    );
}

#[test]
fn disk_variants_start_the_system_on_the_fault_filesystem_and_only_they_are_privileged() {
    let sets: Vec<StatefulSet> = all("StatefulSet");
    let mut disk_variants = 0;
    for set in &sets {
        let name = set.metadata.name.clone().unwrap();
        let spec = set.spec.as_ref().unwrap();
        let pod = spec.template.spec.as_ref().unwrap();
        let system = pod.containers.iter().find(|c| c.name != SIDECAR).unwrap();
        let privileged = system
            .security_context
            .as_ref()
            .and_then(|s| s.privileged)
            .unwrap_or(false);
        // The backend's own reading of the container: is it wrapped?
        let Some(chaos) = wrapper(system) else {
            assert!(!name.ends_with("-disk"), "{name}: not wrapped");
            assert!(
                !privileged,
                "{name}: privileged without the fault filesystem"
            );
            continue;
        };
        disk_variants += 1;
        assert!(name.ends_with("-disk"), "{name}");
        let argv = system.command.clone().unwrap();
        assert_eq!(argv[4], "--", "{name}: {argv:?}");
        // The data directory given to the wrapper is the claim's mount.
        let data = &argv[3];
        let claims: Vec<String> = spec
            .volume_claim_templates
            .iter()
            .flatten()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        let mounts = system.volume_mounts.clone().unwrap_or_default();
        assert!(
            mounts
                .iter()
                .any(|m| &m.mount_path == data && claims.contains(&m.name)),
            "{name}: {data} is not where a claim is mounted: {mounts:?}"
        );
        // The executable is in an emptyDir that an init container from the
        // harness image fills, mounted in the system container where the
        // command looks for it.
        let (dir, file) = chaos.rsplit_once('/').unwrap();
        let mount = mounts
            .iter()
            .find(|m| m.mount_path == dir)
            .unwrap_or_else(|| panic!("{name}: nothing mounted at {dir}"));
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)
            .unwrap();
        assert!(volume.empty_dir.is_some(), "{name}: {volume:?}");
        let init = pod.init_containers.clone().unwrap_or_default();
        let copier = init
            .iter()
            .find(|c| {
                c.volume_mounts
                    .iter()
                    .flatten()
                    .any(|m| m.name == mount.name && m.mount_path == dir)
            })
            .unwrap_or_else(|| panic!("{name}: no init container fills {dir}"));
        assert!(
            copier
                .image
                .as_deref()
                .unwrap()
                .starts_with("chaos/harness:"),
            "{name}: {:?}",
            copier.image
        );
        assert_eq!(
            copier.command.clone().unwrap(),
            ["cp", "/usr/local/bin/chaos", &format!("{dir}/{file}")]
        );
        // The system's image has glibc for the executable: one of ours
        // (the upstream etcd and NATS images have no glibc).
        let image = system.image.as_deref().unwrap();
        assert!(image.starts_with("chaos/"), "{name}: {image}");
        // /dev/fuse and mount(2): privileged, root, SYS_ADMIN said.
        let context = system.security_context.as_ref().unwrap();
        assert!(privileged, "{name}");
        assert_eq!(context.run_as_user, Some(0), "{name}");
        let caps = context
            .capabilities
            .as_ref()
            .and_then(|c| c.add.clone())
            .unwrap_or_default();
        assert_eq!(caps, ["SYS_ADMIN"], "{name}");
    }
    assert_eq!(disk_variants, 2, "etcd-disk and nats-disk");
}
