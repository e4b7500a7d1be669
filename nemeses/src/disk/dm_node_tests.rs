use super::*;
use crate::disk::dm_flakey::{device_name, Fault};

fn parses_as_sh(script: &str) {
    let out = std::process::Command::new("sh")
        .args(["-n", "-c", script])
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "{}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_scripts_are_valid_sh() {
    let names = [device_name("p", "n1"), device_name("p", "it's")];
    parses_as_sh(&with_args(
        &start(),
        &start_args(&names[0], BACKING_FILE, DISK_MIB, DATA),
    ));
    parses_as_sh(&with_args(CHECK, &[names[0].clone(), DATA.into()]));
    parses_as_sh(&switch_each(&names, Mode::Down(Fault::DropWrites)));
    parses_as_sh(&remove_each(&names));
}

#[test]
fn the_start_formats_only_a_file_it_made_and_switches_a_reused_device_up() {
    let text = start();
    assert!(text.contains("how=reused"), "{text}");
    // mkfs only on the branch that made the file.
    let mkfs = text.find("mkfs.ext4 -q").expect("formats");
    let guard = text[..mkfs].rfind("if [ $how = new ]").expect("guarded");
    assert!(text[guard..mkfs].lines().count() <= 3, "{text}");
    // The pass-through table, as the library writes it.
    assert!(
        text.contains(&format!(
            "switch_device \"$name\" '{}'",
            Mode::Up.flakey_args()
        )),
        "{text}"
    );
    assert!(text.trim_end().ends_with("exec \"$@\""), "{text}");
}

#[test]
fn start_lines_are_read() {
    let said = |how| format!("chaos-dm: mounted chaos-flakey.p.n1 on /data ({how})\n");
    assert_eq!(start_outcome(&said("new")), Some(Start::New));
    assert_eq!(start_outcome(&said("kept")), Some(Start::Kept));
    assert_eq!(start_outcome(&said("reused")), Some(Start::Reused));
    assert_eq!(start_outcome(&said("other")), None);
    assert_eq!(start_outcome("mount: /data: permission denied\n"), None);
}

#[test]
fn a_check_says_the_mode_in_force_or_why_the_data_is_elsewhere() {
    let name = device_name("p", "n1");
    let table = "0 4194304 flakey 7:3 0 2 2 1 error_writes";
    let mounted = format!("mounted /dev/sda1\nmounted /dev/mapper/{name}\n");
    assert_eq!(
        check_outcome(&format!("{table}\n{mounted}"), &name),
        Ok("2 2 1 error_writes".to_string())
    );
    // Only the last mount on the directory counts: it hides the others.
    let under = format!("{table}\nmounted /dev/mapper/{name}\nmounted /dev/sda1\n");
    let e = check_outcome(&under, &name).unwrap_err();
    assert!(e.contains("on /dev/sda1, not /dev/mapper/"), "{e}");
    let e = check_outcome(&format!("{table}\n"), &name).unwrap_err();
    assert!(e.contains("nothing is mounted"), "{e}");
    let e = check_outcome("0 8 linear 7:3 0\n", &name).unwrap_err();
    assert!(e.contains("not a flakey device"), "{e}");
    let e = check_outcome("device-mapper: table ioctl failed\n", &name).unwrap_err();
    assert!(e.contains("not a flakey device"), "{e}");
}

/// A failing step inside one device's script stops that script (SWITCH
/// relies on `set -e`), the next device is still tried, and the whole
/// fails: run for real with sh, on a stand-in for each device's script.
#[test]
fn a_failure_in_one_device_stops_its_script_not_the_others() {
    let names = ["a".to_string(), "b".to_string()];
    let script = each(&names, |name| {
        format!("set -e\n[ {name} != a ]\necho done {name}")
    });
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .expect("sh runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done b\n");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn helper_scripts_name_every_device_and_try_them_all() {
    let names = [device_name("p", "n1"), device_name("p", "n2")];
    let switch = switch_each(&names, Mode::Down(Fault::DropWrites));
    for name in &names {
        assert!(
            switch.contains(&format!("'{name}' '0 1 1 drop_writes'")),
            "{switch}"
        );
    }
    assert_eq!(
        switch.matches(")\n[ $? = 0 ] || failed=1").count(),
        2,
        "{switch}"
    );
    assert!(switch.ends_with("exit $failed"), "{switch}");
    let remove = remove_each(&names);
    assert_eq!(
        remove.matches("wait_closed \"$1\" 300").count(),
        2,
        "{remove}"
    );
    assert!(
        remove.starts_with("export DM_DISABLE_UDEV=1\nwait_closed()"),
        "{remove}"
    );
}
