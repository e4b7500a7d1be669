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
    assert_eq!(
        create_args(DEVICE, "/data/disk.img", 64, Mode::Up),
        ["chaos-flakey", "/data/disk.img", "64", "1 0 0"]
    );
    assert_eq!(
        switch_args(DEVICE, Mode::Down(CORRUPT_READS)),
        ["chaos-flakey", "0 1 5 corrupt_bio_byte 100 r 90 0"]
    );
    assert_eq!(remove_args(DEVICE), ["chaos-flakey"]);
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
        (CREATE, create_args(DEVICE, "/tmp/x", 1, Mode::Up)),
        (SWITCH, switch_args(DEVICE, Mode::Up)),
        (REMOVE, remove_args(DEVICE)),
        (TARGETS, vec![]),
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
