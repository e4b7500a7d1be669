use super::*;

fn faults(list: &str) -> Vec<FaultSpec> {
    FaultSpec::parse_list(list).unwrap()
}

fn flakey(release: &str) -> Probe {
    Probe::Flakey {
        release: release.into(),
        version: (1, 5, 0),
    }
}

const OLD: &str = "6.1.0-57-amd64";
const NEW: &str = "6.16.2";

#[test]
fn mechanisms_parse_by_their_flag_names() {
    for m in [Mechanism::FaultFs, Mechanism::DmFlakey] {
        assert_eq!(Mechanism::parse(m.name()), Ok(m));
    }
    assert_eq!(
        Mechanism::parse("lvm"),
        Err("--disk-faults \"lvm\": use fuse or dm".into())
    );
}

#[test]
fn only_what_dm_can_never_do_is_settled_without_the_kernel() {
    let fs = |why: &str| {
        Ok(Decision::Made(Choice {
            mechanism: Mechanism::FaultFs,
            why: why.into(),
        }))
    };
    let kills = faults("kill-lose-unsynced,flakey:error-writes,bitflip,kill");
    assert_eq!(decide(None, &kills), Ok(Decision::AskKernel));
    assert_eq!(
        decide(Some(Mechanism::DmFlakey), &kills),
        Ok(Decision::AskKernel)
    );
    assert_eq!(
        decide(Some(Mechanism::FaultFs), &kills),
        fs("--disk-faults fuse")
    );
    let slow = faults("flakey:drop-writes,slow-disk:100ms");
    assert_eq!(
        decide(None, &slow),
        fs("slow-disk:100ms cannot be done with dm-flakey: it fails, drops and corrupts I/O but delays none")
    );
    let e = decide(Some(Mechanism::DmFlakey), &slow).unwrap_err();
    assert!(
        e.starts_with("--disk-faults dm: slow-disk:100ms cannot be done with dm-flakey")
            && e.ends_with("leave it out of --nemesis, or use --disk-faults fuse"),
        "{e}"
    );
    // Given alone, to measure its cost: dm still needs the kernel's word.
    assert_eq!(
        decide(Some(Mechanism::DmFlakey), &[]),
        Ok(Decision::AskKernel)
    );
}

#[test]
fn the_kernel_decides_between_dm_and_the_fault_filesystem() {
    let list = faults("kill-lose-unsynced-all,flakey:error-writes");
    let chosen = with_kernel(None, &list, &flakey(OLD)).unwrap();
    assert_eq!(chosen.mechanism, Mechanism::DmFlakey);
    assert_eq!(
        chosen.why,
        "the Docker host's kernel (6.1.0-57-amd64) has flakey v1.5.0"
    );
    let without = Probe::NoFlakey {
        release: "6.18.44-fc".into(),
        said: "dmsetup targets: striped v1.6.0 linear v1.4.0".into(),
    };
    let chosen = with_kernel(None, &list, &without).unwrap();
    assert_eq!(chosen.mechanism, Mechanism::FaultFs);
    assert!(
        chosen.why.contains("lists no dm-flakey target"),
        "{}",
        chosen.why
    );
    let e = with_kernel(Some(Mechanism::DmFlakey), &list, &without).unwrap_err();
    assert_eq!(
        e,
        "--disk-faults dm: the Docker host's kernel (6.18.44-fc) lists no dm-flakey target (dmsetup targets: striped v1.6.0 linear v1.4.0): load it on the host with `modprobe dm-flakey`, or use --disk-faults fuse"
    );
    let stale = Probe::NoDmsetup {
        release: NEW.into(),
    };
    assert_eq!(
        with_kernel(None, &list, &stale).unwrap().mechanism,
        Mechanism::FaultFs
    );
    let e = with_kernel(Some(Mechanism::DmFlakey), &list, &stale).unwrap_err();
    assert!(e.contains("chaos images build --force"), "{e}");
}

#[test]
fn modes_an_older_kernel_lacks_go_to_the_fault_filesystem_or_are_refused() {
    for (mode, version) in [("error-reads", "6.4"), ("corrupt-reads", "6.15")] {
        let list = faults(&format!("flakey:{mode}"));
        let on_old = with_kernel(None, &list, &flakey(OLD)).unwrap();
        assert_eq!(on_old.mechanism, Mechanism::FaultFs, "{mode}");
        assert_eq!(
            on_old.why,
            format!("flakey:{mode} needs Linux {version} or later in dm-flakey, and the Docker host runs {OLD}")
        );
        let e = with_kernel(Some(Mechanism::DmFlakey), &list, &flakey(OLD)).unwrap_err();
        assert!(
            e.ends_with("leave it out of --nemesis, or use --disk-faults fuse"),
            "{e}"
        );
        let on_new = with_kernel(Some(Mechanism::DmFlakey), &list, &flakey(NEW)).unwrap();
        assert_eq!(on_new.mechanism, Mechanism::DmFlakey, "{mode}");
    }
    // Corrupted writes and dropped writes work on 6.1.
    let list = faults("flakey:corrupt-writes,flakey:drop-writes");
    let chosen = with_kernel(Some(Mechanism::DmFlakey), &list, &flakey(OLD)).unwrap();
    assert_eq!(chosen.mechanism, Mechanism::DmFlakey);
}
