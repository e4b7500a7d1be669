//! A throwaway VM for tests that need a kernel of their own (device-mapper
//! faults, netem): a stock Debian kernel and a busybox initramfs, prepared by
//! `tests/vm/build-initramfs.sh` (cached under target/tmp/vm-cache), booted
//! under QEMU with software emulation (TCG: KVM may be absent or stall),
//! running one shell script and powering off. The serial console is the
//! only channel back: the script prints facts, lines `@@ LABEL rc=N TEXT`,
//! and [`facts`] reads them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const QEMU: &str = "qemu-system-x86_64";

/// A kernel and an initramfs that runs the test's script.
pub struct Vm {
    test: String,
    cache: PathBuf,
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    /// `uname -r` of the kernel.
    pub release: String,
    /// How long the preparation took (long only the first time).
    pub prepared_in: Duration,
}

/// The run's initramfs goes with it (the kernel and base stay cached).
impl Drop for Vm {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.initramfs);
    }
}

/// Under CI a missing piece is a broken machine; elsewhere a skip that
/// says why. Returns None after printing the skip.
fn missing(test: &str, why: &str) -> Option<Vm> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {why}, and CI=true (.ci/run installs qemu-system-x86, busybox-static, dmsetup, e2fsprogs and iproute2)"
    );
    eprintln!("SKIPPED {test}: {why}");
    None
}

/// Prepare a VM whose /init runs `script`. None (after a SKIPPED line)
/// where QEMU, a host tool or the kernel package cannot be had.
pub fn prepare(test: &str, script: &str) -> Option<Vm> {
    let qemu = Command::new(QEMU)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !qemu.is_ok_and(|s| s.success()) {
        return missing(test, &format!("`{QEMU} --version` failed: no QEMU"));
    }
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-cache");
    std::fs::create_dir_all(&cache).expect("the VM cache folder");
    // This run's files: other runs may share the cache.
    let run = format!("{test}-{}", std::process::id());
    let script_file = cache.join(format!("{run}.sh"));
    let initramfs = cache.join(format!("{run}.cpio"));
    std::fs::write(&script_file, script).expect("the test script is written");
    let started = Instant::now();
    let build = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm/build-initramfs.sh");
    let out = Command::new("bash")
        .arg(&build)
        .args([&cache, &script_file, &initramfs])
        .output()
        .expect("bash runs");
    let _ = std::fs::remove_file(&script_file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(2) | Some(3) => return missing(test, stderr.trim()),
        _ => panic!("{} failed: {}\n{stderr}", build.display(), out.status),
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{} printed no {key}=: {stdout}", build.display()))
            .to_string()
    };
    Some(Vm {
        test: test.to_string(),
        cache,
        kernel: field("kernel").into(),
        release: field("release"),
        initramfs,
        prepared_in: started.elapsed(),
    })
}

/// QEMU, killed and reaped when dropped, so a failing test leaves no VM.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Boot `vm` and return its console once it powers off; Err (after
/// killing QEMU) if it is still running after `timeout`, or if QEMU
/// failed. The console is also left in the cache as TEST.console.
pub fn boot(vm: &Vm, timeout: Duration) -> Result<String, String> {
    // QEMU's own complaints go to a file: an unread pipe could fill up.
    let stderr_path = vm.initramfs.with_extension("qemu-stderr");
    let stderr = std::fs::File::create(&stderr_path).expect("the qemu stderr file");
    let child = Command::new(QEMU)
        .args(["-accel", "tcg", "-cpu", "max", "-m", "512"])
        .args(["-nographic", "-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(&vm.kernel)
        .arg("-initrd")
        .arg(&vm.initramfs)
        // loglevel=1: kernel messages would interleave with the facts.
        .args(["-append", "console=ttyS0 panic=-1 quiet loglevel=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{QEMU} does not start: {e}"))?;
    let mut qemu = Running(child);
    let stdout = qemu.0.stdout.take().expect("piped stdout");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut console = String::new();
    let outcome = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => {
                console.push_str(line.trim_end_matches('\r'));
                console.push('\n');
            }
            // The console closed: QEMU exited (the guest powered off).
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break qemu.0.wait().map_err(|e| e.to_string());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                break Err(format!("the VM still ran after {timeout:?}, killed"));
            }
        }
    };
    drop(qemu);
    let _ = std::fs::write(vm.cache.join(format!("{}.console", vm.test)), &console);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr_path);
    match outcome {
        Ok(status) if status.success() => Ok(console),
        Ok(status) => Err(format!(
            "{QEMU} exited {status}: {stderr}\nconsole:\n{console}"
        )),
        Err(why) => Err(format!("{why}: {stderr}\nconsole:\n{console}")),
    }
}

/// Is a QEMU of this VM still running? (Looks for its initramfs on the
/// command lines in /proc.)
pub fn running(vm: &Vm) -> bool {
    let wanted = vm.initramfs.to_string_lossy().into_owned();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return false;
    };
    processes.flatten().any(|p| {
        std::fs::read(p.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&wanted))
    })
}

/// A fact the guest printed: `@@ LABEL rc=N TEXT`.
#[derive(Clone, Debug)]
pub struct Fact {
    pub rc: i32,
    pub text: String,
}

/// Every fact on the console by label (a label is printed once).
pub fn facts(console: &str) -> HashMap<String, Fact> {
    let mut facts = HashMap::new();
    for line in console.lines() {
        let Some(rest) = line.split_once("@@ ").map(|(_, r)| r) else {
            continue;
        };
        let mut words = rest.splitn(3, ' ');
        let (Some(label), Some(rc)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(rc) = rc.strip_prefix("rc=").and_then(|n| n.parse().ok()) else {
            continue;
        };
        let text = words.next().unwrap_or("").trim().to_string();
        let previous = facts.insert(label.to_string(), Fact { rc, text });
        assert!(previous.is_none(), "the label {label} was printed twice");
    }
    facts
}
