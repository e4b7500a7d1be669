use super::*;
use crate::disk::with_args;

const CORRUPT_READS: Fault = Fault::Corrupt {
    direction: Direction::Reads,
    nth_byte: 100,
    value: 90,
};

#[test]
fn every_mode_has_its_table() {
    let t = |mode| table("/dev/loop0", 204800, mode);
    let head = "0 204800 flakey /dev/loop0 0";
    assert_eq!(t(Mode::Up), format!("{head} 1 0 0"));
    assert_eq!(t(Mode::Down(Fault::ErrorAll)), format!("{head} 0 1 0"));
    assert_eq!(
        t(Mode::Down(Fault::ErrorReads)),
        format!("{head} 0 1 1 error_reads")
    );
    assert_eq!(
        t(Mode::Down(Fault::ErrorWrites)),
        format!("{head} 0 1 1 error_writes")
    );
    assert_eq!(
        t(Mode::Down(Fault::DropWrites)),
        format!("{head} 0 1 1 drop_writes")
    );
    assert_eq!(
        t(Mode::Down(CORRUPT_READS)),
        format!("{head} 0 1 5 corrupt_bio_byte 100 r 90 0")
    );
    let corrupt_writes = Fault::Corrupt {
        direction: Direction::Writes,
        nth_byte: 1,
        value: 0,
    };
    assert_eq!(
        t(Mode::Down(corrupt_writes)),
        format!("{head} 0 1 5 corrupt_bio_byte 1 w 0 0")
    );
    assert_eq!(
        t(Mode::Intermittent {
            fault: Fault::DropWrites,
            up_secs: 10,
            down_secs: 3
        }),
        format!("{head} 10 3 1 drop_writes")
    );
}

#[test]
fn tables_name_the_device_as_given() {
    // The kernel prints the device back as major:minor: the same function
    // builds what `dmsetup table` must show.
    assert_eq!(
        table("7:0", 8, Mode::Down(Fault::ErrorWrites)),
        "0 8 flakey 7:0 0 0 1 1 error_writes"
    );
}

#[test]
fn script_arguments_carry_the_mode() {
    let name = device_name("chaos-etcd-3-r1", "n2");
    assert_eq!(name, "chaos-flakey.chaos-etcd-3-r1.n2");
    assert_eq!(
        create_args(&name, "/data/disk.img", 64, Mode::Up),
        [name.as_str(), "/data/disk.img", "64", "1 0 0"]
    );
    assert_eq!(
        switch_args(&name, Mode::Down(CORRUPT_READS)),
        [name.as_str(), "0 1 5 corrupt_bio_byte 100 r 90 0"]
    );
    assert_eq!(remove_args(&name), [name.as_str()]);
}

#[test]
fn device_names_lead_back_to_their_cluster() {
    assert_eq!(project_of(&device_name("a-b_1", "n1")), Some("a-b_1"));
    // A node name with a dot still leaves the project whole.
    assert_eq!(project_of(&device_name("p", "db.1")), Some("p"));
    assert_eq!(project_of("chaos-flakey"), None);
    assert_eq!(project_of("chaos-flakey.p"), None);
    assert_eq!(project_of("chaos-flakeyx.p.n1"), None);
    assert_eq!(project_of("vg0-root"), None);
}

#[test]
fn a_runs_flakey_fault_becomes_a_table() {
    use crate::storage::{Flakey, FlakeyMode};
    let table = |mode| mode_of(&Flakey::new(mode)).flakey_args();
    assert_eq!(table(FlakeyMode::ErrorWrites), "2 2 1 error_writes");
    assert_eq!(table(FlakeyMode::DropWrites), "2 2 1 drop_writes");
    assert_eq!(table(FlakeyMode::ErrorReads), "2 2 1 error_reads");
    assert_eq!(
        table(FlakeyMode::CorruptReads),
        "2 2 5 corrupt_bio_byte 512 r 90 0"
    );
    assert_eq!(
        table(FlakeyMode::CorruptWrites),
        "2 2 5 corrupt_bio_byte 512 w 90 0"
    );
    let odd = |up_ms, down_ms| {
        mode_of(&Flakey {
            mode: FlakeyMode::ErrorWrites,
            up_ms,
            down_ms,
        })
    };
    // dm-flakey counts whole seconds: rounded up.
    assert_eq!(odd(1500, 10).flakey_args(), "2 1 1 error_writes");
    assert_eq!(odd(0, 2000), Mode::Down(Fault::ErrorWrites));
    assert_eq!(odd(2000, 0), Mode::Up);
}

#[test]
fn tables_read_back_give_their_arguments() {
    let t = "0 4194304 flakey 7:0 0 2 2 1 error_writes";
    assert_eq!(flakey_args_of(t).as_deref(), Some("2 2 1 error_writes"));
    assert_eq!(
        flakey_args_of(&table("7:0", 8, Mode::Up)).as_deref(),
        Some("1 0 0")
    );
    assert_eq!(flakey_args_of("0 8 linear 7:0 0"), None);
    assert_eq!(flakey_args_of("0 8 flakey 7:0 0 1"), None);
    assert_eq!(flakey_args_of(""), None);
}

#[test]
fn proc_misc_tells_whether_device_mapper_is_there() {
    assert!(lists_device_mapper(" 60 device-mapper\n229 fuse\n"));
    assert!(!lists_device_mapper("237 loop-control\n229 fuse\n"));
    assert!(!lists_device_mapper("236 device-mapperx\n"));
    assert!(!lists_device_mapper(""));
}

#[test]
fn the_probe_tells_the_kernel_its_target_and_a_stale_image_apart() {
    let with = "release 6.1.0-57-amd64\nflakey           v1.5.0\nlinear           v1.4.0\n";
    assert_eq!(
        probe_outcome(with),
        Some(Probe::Flakey {
            release: "6.1.0-57-amd64".into(),
            version: (1, 5, 0)
        })
    );
    let without = "release 6.18.44\n/dev/mapper/control: open failed: No such device\nFailure to communicate with kernel device-mapper driver.\n";
    let Some(Probe::NoFlakey { release, said }) = probe_outcome(without) else {
        panic!("{without}")
    };
    assert_eq!(release, "6.18.44");
    assert!(
        said.starts_with("dmsetup targets: /dev/mapper/control: open failed")
            && !said.contains('\n'),
        "{said}"
    );
    assert_eq!(
        probe_outcome("release 6.1.0\nno dmsetup\n"),
        Some(Probe::NoDmsetup {
            release: "6.1.0".into()
        })
    );
    assert_eq!(probe_outcome("sh: 1: uname: not found\n"), None);
}

#[test]
fn the_flakey_target_is_found_in_dmsetup_targets() {
    let targets = "flakey           v1.5.0\nstriped          v1.6.0\nlinear           v1.4.0\nerror            v1.6.0\n";
    assert_eq!(flakey_version(targets), Some((1, 5, 0)));
    let without = "striped          v1.6.0\nlinear           v1.4.0\n";
    assert_eq!(flakey_version(without), None);
    assert_eq!(flakey_version(""), None);
    assert_eq!(
        flakey_version("/dev/mapper/control: open failed: Permission denied\n"),
        None
    );
    // A target whose name merely starts with ours is not it.
    assert_eq!(flakey_version("flakeyish v9.9.9\n"), None);
    assert_eq!(flakey_version("flakey vX\n"), None);
}

#[test]
fn outcomes_are_read() {
    assert_eq!(
        created_outcome("created chaos-flakey /dev/loop0 7:0 131072\n"),
        Some(Created {
            loop_device: "/dev/loop0".into(),
            dev_number: "7:0".into(),
            sectors: 131072,
        })
    );
    assert_eq!(
        created_outcome("device-mapper: create ioctl failed\n"),
        None
    );
    assert_eq!(created_outcome(""), None);
    assert_eq!(
        removed_outcome("removed chaos-flakey /dev/loop3\n"),
        Some(Some("/dev/loop3".into()))
    );
    assert_eq!(removed_outcome("none\n"), Some(None));
    assert_eq!(removed_outcome("dmsetup: not found\n"), None);
}

#[test]
fn kernel_releases_say_which_faults_they_have() {
    assert_eq!(kernel_version("6.1.0-57-amd64"), Some((6, 1)));
    assert_eq!(kernel_version("6.18.44-fc-v857\n"), Some((6, 18)));
    assert_eq!(kernel_version("garbage"), None);
    assert!(!Fault::ErrorReads.on_kernel("6.1.0-57-amd64"));
    assert!(Fault::ErrorReads.on_kernel("6.4.0"));
    assert!(Fault::ErrorReads.on_kernel("6.12.9-cloud"));
    assert!(Fault::ErrorWrites.on_kernel("6.1.0-57-amd64"));
    assert!(!Fault::ErrorWrites.on_kernel("unknown"));
    assert!(!CORRUPT_READS.on_kernel("6.1.0-57-amd64"));
    assert!(CORRUPT_READS.on_kernel("6.15.0"));
    let corrupt_writes = Fault::Corrupt {
        direction: Direction::Writes,
        nth_byte: 1,
        value: 0,
    };
    assert!(corrupt_writes.on_kernel("6.1.0-57-amd64"));
}

#[test]
fn the_scripts_are_valid_sh() {
    for (script, args) in [
        (
            CREATE,
            create_args("chaos-flakey.p.n1", "/tmp/x", 1, Mode::Up),
        ),
        (SWITCH, switch_args("chaos-flakey.p.n1", Mode::Up)),
        (REMOVE, remove_args("chaos-flakey.p.n1")),
        (TARGETS, vec![]),
        (PROBE, vec![]),
    ] {
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", &with_args(script, &args)])
            .output()
            .expect("sh runs");
        assert!(
            out.status.success(),
            "{script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn only_our_device_is_touched() {
    // Switch and remove name the device only through $1 (the name given),
    // and remove detaches nothing but the loop device under it.
    for script in [SWITCH, REMOVE] {
        for line in script.lines().filter(|l| l.contains("dmsetup ")) {
            assert!(line.contains("\"$name\""), "{line}");
        }
    }
    assert!(REMOVE.contains("losetup -d \"/dev/$loop\""));
    assert!(!REMOVE.contains("losetup -D") && !REMOVE.contains("remove_all"));
}
