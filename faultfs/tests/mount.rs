//! The fault filesystem mounted for real: the same operations through the
//! mount and on a plain directory give the same tree; a drop keeps only
//! what was synced; each flakey mode, the random corruption and the
//! latency do what they say; the mount ends cleanly on SIGTERM, even when
//! busy, and when unmounted from outside. Needs /dev/fuse and root; without
//! them each test says why and passes, except under CI=true where that is
//! a failure.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_chaos-faultfs");

/// True if this machine can mount FUSE filesystems; otherwise says why
/// the test is skipped (a failure under CI=true).
fn fuse_or_skip(test: &str) -> bool {
    let why = if !Path::new("/dev/fuse").exists() {
        Some("/dev/fuse is missing (no FUSE in this kernel or container)")
    } else if unsafe { libc::geteuid() } != 0 {
        Some("not root: the test mounts with allow_other and chowns files")
    } else {
        None
    };
    let Some(why) = why else { return true };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {why}, and CI=true: CI machines must have FUSE"
    );
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// Whether `path` is a mount point in this process's mount namespace.
fn is_mounted(path: &Path) -> bool {
    let info = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let wanted = path.to_str().expect("test paths are UTF-8");
    info.lines()
        .any(|line| line.split(' ').nth(4) == Some(wanted))
}

fn errno(result: io::Result<impl std::fmt::Debug>) -> i32 {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.raw_os_error().unwrap_or(0),
    }
}

/// A fresh open and read: no page the kernel kept can answer it.
fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    Ok(data)
}

/// A temporary directory with a backing and a mount point in it, and the
/// filesystem mounted there. Dropped, it stops the filesystem and removes
/// the directory, and never leaves a mount behind even if a test failed.
struct Mounted {
    child: Option<Child>,
    dir: PathBuf,
    backing: PathBuf,
    mnt: PathBuf,
    socket: PathBuf,
}

impl Mounted {
    fn start(name: &str, extra: &[&str]) -> Mounted {
        let dir = std::env::temp_dir().join(format!("faultfs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (backing, mnt, socket) = (dir.join("backing"), dir.join("mnt"), dir.join("ctl.sock"));
        fs::create_dir_all(&backing).unwrap();
        fs::create_dir_all(&mnt).unwrap();
        let mut child = Command::new(BIN)
            .arg("mount")
            .args([&backing, &mnt])
            .arg("--control")
            .arg(&socket)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chaos-faultfs starts");
        // The ready line comes once the mount and the socket answer.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut mounted = Mounted {
            child: Some(child),
            dir,
            backing,
            mnt,
            socket,
        };
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        if !line.contains("mounted") {
            let mut child = mounted.child.take().unwrap();
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "chaos-faultfs did not mount: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            is_mounted(&mounted.mnt),
            "the ready line came before the mount"
        );
        mounted
    }

    fn path(&self, name: &str) -> PathBuf {
        self.mnt.join(name)
    }

    fn ctl(&self, request: Value) -> Value {
        chaos_faultfs::control::request(&self.socket, &request.to_string()).expect("control socket")
    }

    fn ok(&self, request: Value) -> Value {
        let reply = self.ctl(request.clone());
        assert_eq!(reply["ok"], true, "{request} -> {reply}");
        reply
    }

    /// SIGTERM; the exit must be a success, the mount gone. Returns what
    /// chaos-faultfs said on stderr.
    fn stop(&mut self) -> String {
        let mut child = self.child.take().expect("running");
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = wait(&mut child, Duration::from_secs(30));
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(status.success(), "{status}: {stderr}");
        assert!(
            !is_mounted(&self.mnt),
            "still mounted after chaos-faultfs exited"
        );
        stderr
    }
}

fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chaos-faultfs did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if is_mounted(&self.mnt) {
            let path = CString::new(self.mnt.as_os_str().as_bytes()).unwrap();
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The operations both trees go through.
fn exercise(root: &Path) -> io::Result<()> {
    let p = |name: &str| root.join(name);
    let f = File::create(p("a"))?;
    f.write_all_at(b"hello world", 0)?;
    f.write_all_at(b"far", 10_000)?; // sparse
    f.sync_all()?;
    OpenOptions::new()
        .append(true)
        .open(p("a"))?
        .write_all_at(b"+tail", 0)?; // O_APPEND: goes to the end whatever the offset
    f.set_len(5_000)?;
    f.set_len(6_000)?; // the cut bytes come back as zeros
    f.write_all_at(b"mid", 5_500)?;
    f.sync_data()?;
    fs::create_dir(p("d"))?;
    fs::write(p("d/c"), b"inner")?;
    fs::rename(p("a"), p("d/a2"))?;
    File::open(p("d"))?.sync_all()?; // fsync of a directory
    std::os::unix::fs::symlink("d/a2", p("s"))?;
    fs::hard_link(p("d/c"), p("c-link"))?;
    fs::set_permissions(p("d/c"), fs::Permissions::from_mode(0o600))?;
    fs::write(p("gone"), b"x")?;
    fs::remove_file(p("gone"))?;
    fs::create_dir(p("empty"))?;
    fs::remove_dir(p("empty"))?;
    OpenOptions::new()
        .write(true)
        .open(p("d/c"))?
        .write_all_at(b"XY", 1)?;
    fs::write(p("r1"), b"one")?;
    fs::write(p("r2"), b"two")?;
    fs::rename(p("r1"), p("r2"))?; // over an existing file
    fs::write(p("t"), b"long content")?;
    fs::write(p("t"), b"short")?; // O_TRUNC
    let through_link = fs::read(p("s"))?;
    assert_eq!(&through_link[..5], b"hello");
    Ok(())
}

/// Everything a reader can tell about a tree, by relative path.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.mode() & 0o7777;
            let what = if meta.file_type().is_symlink() {
                format!("link -> {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                todo.push(path.clone());
                format!("dir {mode:o}")
            } else {
                let data = read(&path).unwrap();
                assert_eq!(
                    data.len() as u64,
                    meta.len(),
                    "{name}: size and content disagree"
                );
                format!(
                    "file {mode:o} nlink {} {:?}",
                    meta.nlink(),
                    String::from_utf8_lossy(&data)
                )
            };
            out.insert(name, what);
        }
    }
    out
}

#[test]
fn the_mount_behaves_like_a_plain_directory() {
    if !fuse_or_skip("the_mount_behaves_like_a_plain_directory") {
        return;
    }
    let mut m = Mounted::start("plain", &[]);
    let plain = m.dir.join("plain");
    fs::create_dir(&plain).unwrap();
    exercise(&plain).unwrap();
    exercise(&m.mnt).unwrap();
    let expected = snapshot(&plain);
    assert_eq!(snapshot(&m.mnt), expected);
    // Written back, the backing directory holds the same tree.
    m.ok(json!({"op": "sync"}));
    assert_eq!(snapshot(&m.backing), expected);
    let statfs = Command::new("stat")
        .args(["-f", "-c", "%b"])
        .arg(&m.mnt)
        .output()
        .unwrap();
    assert!(statfs.status.success(), "statfs through the mount");
    assert!(m.stop().contains("unmounted (Clean)"));
}

#[test]
fn drop_unsynced_keeps_only_what_was_synced() {
    if !fuse_or_skip("drop_unsynced_keeps_only_what_was_synced") {
        return;
    }
    let mut m = Mounted::start("drop", &[]);
    let kept = File::create(m.path("kept")).unwrap();
    kept.write_all_at(b"durable", 0).unwrap();
    kept.sync_data().unwrap();
    kept.write_all_at(b" and lost", 7).unwrap();
    fs::write(m.path("never"), b"all lost").unwrap();
    fs::write(m.path("cut"), b"0123456789").unwrap();
    File::open(m.path("cut")).unwrap().sync_all().unwrap();
    OpenOptions::new()
        .write(true)
        .open(m.path("cut"))
        .unwrap()
        .set_len(3)
        .unwrap();
    fs::create_dir(m.path("dir")).unwrap();
    fs::rename(m.path("never"), m.path("dir/never")).unwrap();

    let status = m.ok(json!({"op": "status"}));
    assert_eq!(status["unsynced_bytes"], 9 + 8);
    assert_eq!(status["unsynced_files"], 3);
    assert_eq!(
        fs::read(m.backing.join("kept")).unwrap(),
        b"durable",
        "unsynced bytes stay off the disk"
    );
    // A reader that opened before the drop must not keep seeing the
    // dropped bytes through the kernel's page cache.
    let reader = File::open(m.path("kept")).unwrap();
    let mut before = vec![0; 64];
    let n = reader.read_at(&mut before, 0).unwrap();
    assert_eq!(&before[..n], b"durable and lost");

    let dropped = m.ok(json!({"op": "drop-unsynced"}));
    assert_eq!(dropped["dropped_bytes"], 17);
    assert_eq!(dropped["dropped_files"], 3);

    let mut after = vec![0; 64];
    let n = reader.read_at(&mut after, 0).unwrap();
    assert_eq!(&after[..n], b"durable", "the open reader sees the rollback");
    assert_eq!(read(&m.path("kept")).unwrap(), b"durable");
    assert_eq!(fs::metadata(m.path("kept")).unwrap().len(), 7);
    assert_eq!(
        read(&m.path("cut")).unwrap(),
        b"0123456789",
        "the truncate was not synced"
    );
    // Metadata is durable at once: the file and the rename survive, empty.
    assert_eq!(read(&m.path("dir/never")).unwrap(), b"");
    assert_eq!(m.ok(json!({"op": "status"}))["unsynced_bytes"], 0);
    drop((reader, kept));
    assert!(m.stop().contains("unmounted (Clean)"));
}

#[test]
fn flakey_modes_do_what_they_say() {
    if !fuse_or_skip("flakey_modes_do_what_they_say") {
        return;
    }
    let mut m = Mounted::start("flakey", &[]);
    let f = m.path("f");
    fs::write(&f, b"abcdef").unwrap();
    m.ok(json!({"op": "sync"}));
    let down = |mode: Value| {
        let mut request = json!({"op": "flakey", "up_ms": 0, "down_ms": 600_000});
        if let Value::Object(fields) = mode {
            request.as_object_mut().unwrap().extend(fields);
        }
        m.ok(request);
    };
    let pwrite = |data: &[u8], at: u64| {
        OpenOptions::new()
            .write(true)
            .open(&f)
            .and_then(|file| file.write_all_at(data, at))
    };

    // error_reads: reads fail, writes pass.
    down(json!({"mode": "error_reads"}));
    assert_eq!(m.ok(json!({"op": "status"}))["flakey"]["down"], true);
    assert_eq!(errno(read(&f)), libc::EIO);
    pwrite(b"A", 0).unwrap();
    m.ok(json!({"op": "clear"}));
    assert_eq!(read(&f).unwrap(), b"Abcdef");

    // error_writes: writes, fsyncs and metadata changes fail; reads pass.
    let open = OpenOptions::new().write(true).open(&f).unwrap();
    down(json!({"mode": "error_writes"}));
    assert_eq!(errno(pwrite(b"B", 0)), libc::EIO);
    assert_eq!(errno(open.sync_all()), libc::EIO);
    assert_eq!(errno(fs::create_dir(m.path("no"))), libc::EIO);
    assert_eq!(read(&f).unwrap(), b"Abcdef");
    m.ok(json!({"op": "clear"}));
    fs::create_dir(m.path("yes")).unwrap();

    // drop_writes: writes and fsyncs report success and change nothing.
    down(json!({"mode": "drop_writes"}));
    pwrite(b"QQ", 0).unwrap();
    open.sync_all().unwrap();
    m.ok(json!({"op": "clear"}));
    assert_eq!(read(&f).unwrap(), b"Abcdef");

    // No mode: dm-flakey's default, every read and write fails.
    down(json!({}));
    assert_eq!(errno(read(&f)), libc::EIO);
    assert_eq!(errno(pwrite(b"C", 0)), libc::EIO);
    m.ok(json!({"op": "clear"}));

    // corrupt_bio_byte on writes: the 1st byte of each write is replaced.
    down(json!({"mode": "corrupt_bio_byte", "byte": 1, "value": b'!', "direction": "w"}));
    pwrite(b"xyz", 2).unwrap();
    m.ok(json!({"op": "clear"}));
    assert_eq!(read(&f).unwrap(), b"Ab!yzf");

    // corrupt_bio_byte on reads: what is read changes, not what is stored.
    down(json!({"mode": "corrupt_bio_byte", "byte": 2, "value": b'#', "direction": "r"}));
    assert_eq!(read(&f).unwrap(), b"A#!yzf");
    m.ok(json!({"op": "clear"}));
    assert_eq!(read(&f).unwrap(), b"Ab!yzf");

    // While up, everything passes.
    m.ok(json!({"op": "flakey", "up_ms": 600_000, "down_ms": 1000}));
    assert_eq!(m.ok(json!({"op": "status"}))["flakey"]["down"], false);
    pwrite(b"a", 0).unwrap();
    assert_eq!(read(&f).unwrap(), b"ab!yzf");

    // Random corruption at probability 1: exactly one byte of each request.
    m.ok(json!({"op": "clear"}));
    m.ok(json!({"op": "corrupt", "direction": "w", "probability": 1.0, "seed": 3}));
    File::create(m.path("z"))
        .unwrap()
        .write_all_at(&[0u8; 4096], 0)
        .unwrap();
    m.ok(json!({"op": "corrupt", "direction": "r", "probability": 1.0, "seed": 4}));
    let status = m.ok(json!({"op": "status"}));
    assert_eq!(status["corrupt"].as_array().unwrap().len(), 2, "{status}");
    let seen = read(&f).unwrap();
    let differing = seen.iter().zip(b"ab!yzf").filter(|(a, b)| a != b).count();
    assert_eq!(differing, 1, "{seen:?}");
    m.ok(json!({"op": "clear"}));
    let z = read(&m.path("z")).unwrap();
    assert_eq!(z.len(), 4096);
    assert_eq!(z.iter().filter(|&&b| b != 0).count(), 1);
    let status = m.ok(json!({"op": "status"}));
    assert_eq!(status["flakey"], Value::Null);
    assert_eq!(status["corrupt"], json!([]));

    // The ctl command: bare op names, JSON, and a refusal with exit 1.
    let ctl = |arg: &str| {
        Command::new(BIN)
            .arg("ctl")
            .arg(&m.socket)
            .arg(arg)
            .output()
            .unwrap()
    };
    let out = ctl("status");
    assert!(out.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["ok"],
        true
    );
    let out = ctl(r#"{"op":"flakey","up_ms":0,"down_ms":0}"#);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("more than 0"));
    drop(open);
    assert!(m.stop().contains("unmounted (Clean)"));
}

#[test]
fn latency_adds_time() {
    if !fuse_or_skip("latency_adds_time") {
        return;
    }
    let mut m = Mounted::start("latency", &[]);
    let f = m.path("f");
    fs::write(&f, b"data").unwrap();
    let file = OpenOptions::new().write(true).open(&f).unwrap();
    let delay = Duration::from_millis(300);
    m.ok(json!({"op": "latency", "reads_ms": 300, "writes_ms": 300, "fsync_ms": 300}));
    let timed = |what: &str, op: &dyn Fn()| {
        let start = Instant::now();
        op();
        let took = start.elapsed();
        assert!(
            took >= delay,
            "{what} took {took:?}, less than the {delay:?} added"
        );
    };
    timed("a read", &|| {
        read(&f).unwrap();
    });
    timed("a write", &|| file.write_all_at(b"x", 0).unwrap());
    timed("an fsync", &|| file.sync_all().unwrap());
    m.ok(json!({"op": "clear"}));
    drop(file);
    assert!(m.stop().contains("unmounted (Clean)"));
}

#[test]
fn another_user_can_use_the_mount() {
    if !fuse_or_skip("another_user_can_use_the_mount") {
        return;
    }
    let mut m = Mounted::start("user", &[]);
    let dir = m.path("shared");
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let as_nobody = |script: &str| {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "sh",
                "-c",
                script,
            ])
            .env("D", &dir)
            .output()
            .expect("setpriv runs")
    };
    let out = as_nobody(r#"echo mine > "$D/x" && cat "$D/x""#);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"mine\n");
    let meta = fs::metadata(m.backing.join("shared/x")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (65534, 65534),
        "created as the caller"
    );
    // default_permissions: the kernel refuses what the modes refuse.
    fs::write(m.path("root-only"), b"secret").unwrap();
    fs::set_permissions(m.path("root-only"), fs::Permissions::from_mode(0o600)).unwrap();
    let out = as_nobody(&format!("cat {}", m.path("root-only").display()));
    assert!(!out.status.success(), "nobody read a 0600 root file");
    assert!(m.stop().contains("unmounted (Clean)"));
}

#[test]
fn sigterm_unmounts_a_busy_mount_and_writes_back() {
    if !fuse_or_skip("sigterm_unmounts_a_busy_mount_and_writes_back") {
        return;
    }
    let mut m = Mounted::start("busy", &["--unmount-grace-ms", "300"]);
    let busy = File::create(m.path("open")).unwrap();
    busy.write_all_at(b"written back at exit", 0).unwrap();
    // The open file keeps the mount busy: a plain umount gets EBUSY.
    let said = m.stop();
    assert!(said.contains("unmounted (Lazily)"), "{said}");
    assert_eq!(
        fs::read(m.backing.join("open")).unwrap(),
        b"written back at exit"
    );
    drop(busy);
}

#[test]
fn an_unmount_from_outside_ends_the_process() {
    if !fuse_or_skip("an_unmount_from_outside_ends_the_process") {
        return;
    }
    let m = Mounted::start("external", &[]);
    fs::write(m.path("f"), b"x").unwrap();
    let path = CString::new(m.mnt.as_os_str().as_bytes()).unwrap();
    // EBUSY may last a moment: a process another test forks in that
    // instant holds a copy of the write's descriptor until it execs (a CI
    // run saw it). Anything else, or EBUSY for 10 s, is a failure.
    let deadline = Instant::now() + Duration::from_secs(10);
    while unsafe { libc::umount2(path.as_ptr(), 0) } != 0 {
        let error = io::Error::last_os_error();
        assert!(
            error.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline,
            "umount from outside: {error}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let mut m = m;
    let mut child = m.child.take().unwrap();
    let status = wait(&mut child, Duration::from_secs(30));
    assert!(status.success(), "{status}");
    assert!(!is_mounted(&m.mnt));
    assert!(!m.socket.exists(), "the control socket is removed at exit");
    assert_eq!(fs::read(m.backing.join("f")).unwrap(), b"x");
}

#[test]
fn bad_input_is_one_line_and_exit_1() {
    let out = Command::new(BIN)
        .args([
            "mount",
            "/nonexistent/backing",
            "/tmp",
            "--control",
            "/tmp/unused.sock",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("backing directory /nonexistent/backing"),
        "{stderr}"
    );

    let out = Command::new(BIN)
        .args(["ctl", "/nonexistent/ctl.sock", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("control socket /nonexistent/ctl.sock"));

    let out = Command::new(BIN)
        .args(["mount", "a", "b", "--control", "c", "--cache-limit", "lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
}
