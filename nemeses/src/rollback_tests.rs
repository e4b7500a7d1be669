use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

const LISTING: &str = "300000 /data/a/wal\n0 /data/empty\n100 /data/meta\n";

fn size_in(listing: &str, path: &str) -> u64 {
    listing
        .lines()
        .find_map(|l| {
            let (size, p) = l.split_once(' ')?;
            (p == path).then(|| size.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{path} is not in the listing"))
}

#[test]
fn a_snapshot_is_drawn_from_the_seed_and_stays_within_the_files() {
    let chunks = plan_snapshot(LISTING, 7).unwrap();
    assert_eq!(chunks, plan_snapshot(LISTING, 7).unwrap(), "a seed replays");
    assert!(!chunks.is_empty() && chunks.len() <= CHUNKS, "{chunks:?}");
    let seeds: Vec<Vec<Chunk>> = (0..20)
        .map(|s| plan_snapshot(LISTING, s).unwrap())
        .collect();
    assert!(
        seeds.iter().any(|c| c != &chunks),
        "twenty seeds drew the same chunks"
    );
    for chunk in seeds.iter().flatten() {
        assert_ne!(
            chunk.path, "/data/empty",
            "an empty file has nothing to stash"
        );
        let size = size_in(LISTING, &chunk.path);
        assert!(
            chunk.len > 0 && chunk.offset + chunk.len <= size,
            "{chunk:?}"
        );
        if size <= CHUNK_BYTES {
            assert_eq!(
                (chunk.offset, chunk.len),
                (0, size),
                "a small file is taken whole"
            );
        } else {
            assert_eq!(chunk.len, CHUNK_BYTES, "{chunk:?}");
        }
    }
    // Drawn in proportion to size: the 300 kB file gets nearly every draw.
    let in_wal = seeds
        .iter()
        .flatten()
        .filter(|c| c.path == "/data/a/wal")
        .count();
    let all = seeds.iter().flatten().count();
    assert!(
        in_wal * 10 >= all * 9,
        "{in_wal} of {all} chunks in the big file"
    );
    let e = plan_snapshot("0 /data/x\n", 1).unwrap_err();
    assert!(e.contains("no file with data"), "{e}");
}

#[test]
fn a_manifest_lists_what_the_script_stashes_and_bad_lines_are_refused() {
    let chunks = vec![
        Chunk {
            path: "/data/it's here".into(),
            offset: 5,
            len: 10,
        },
        Chunk {
            path: "/data/b".into(),
            offset: 0,
            len: 3,
        },
    ];
    let script = snapshot_script(&chunks, "/stash");
    assert!(
        script.contains(
            "printf '%s\\n' '0 5 10 /data/it'\\''s here' '1 0 3 /data/b' > '/stash/manifest.new'"
        ),
        "{script}"
    );
    assert!(
        script.contains("dd if='/data/it'\\''s here' of='/stash/chunks/0' bs=65536 iflag=skip_bytes,count_bytes skip=5 count=10"),
        "{script}"
    );
    assert!(
        script
            .trim_end()
            .ends_with("mv '/stash/manifest.new' '/stash/manifest'"),
        "the manifest comes last: {script}"
    );
    let restore = restore_script(&chunks, "/stash");
    assert!(restore.contains("conv=notrunc"), "{restore}");
    assert!(restore.contains("seek=5 count=$n"), "{restore}");
    for text in [&script, &restore] {
        let out = Command::new("sh")
            .args(["-n", "-c", text])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = parse_manifest("0 5 10 /data/it's here\n1 0 3 /data/b\n").unwrap();
    assert_eq!(listed, chunks);
    let e = parse_manifest("0 5 10 /data/a\n2 0 3 /data/b\n").unwrap_err();
    assert!(e.starts_with("line 2 of the stash's manifest"), "{e}");
    assert!(parse_manifest("0 5 ten /data/a\n").is_err());
    assert!(parse_manifest("0 5 10\n").is_err(), "a line without a path");
}

/// A scratch directory of this test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chaos-rollback-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("data")).unwrap();
    dir
}

fn sh(script: &str) -> String {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn listing_of(data: &Path) -> String {
    sh(&crate::storage::list_files_script(data.to_str().unwrap()))
}

/// The scripts run for real (sh, dd, stat) on files in a scratch
/// directory: the chunks written over after the snapshot get their old
/// bytes back; nothing else changes; a file cut short is not made longer
/// and a file removed is not made again, and the lines say so.
#[test]
fn the_scripts_put_old_bytes_back_in_place_and_never_grow_or_make_a_file() {
    let dir = scratch("scripts");
    let data = dir.join("data");
    let stash = dir.join("stash");
    let old: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(data.join("wal"), &old).unwrap();
    fs::write(data.join("meta"), b"version 1").unwrap();
    let stash_dir = stash.to_str().unwrap();
    let chunks = plan_snapshot(&listing_of(&data), 11).unwrap();
    let said = sh(&snapshot_script(&chunks, stash_dir));
    assert_eq!(said.lines().count(), chunks.len(), "{said}");
    let manifest = fs::read_to_string(stash.join(MANIFEST)).unwrap();
    assert_eq!(parse_manifest(&manifest).unwrap(), chunks);

    // After the snapshot the node writes everything anew.
    let new = vec![0xeeu8; old.len()];
    fs::write(data.join("wal"), &new).unwrap();
    fs::write(data.join("meta"), b"version 2").unwrap();
    let out = sh(&restore_script(&chunks, stash_dir));
    let now = fs::read(data.join("wal")).unwrap();
    assert_eq!(now.len(), old.len(), "no file changes length");
    let mut expected = new.clone();
    for c in chunks.iter().filter(|c| c.path.ends_with("/wal")) {
        let (from, to) = (c.offset as usize, (c.offset + c.len) as usize);
        expected[from..to].copy_from_slice(&old[from..to]);
    }
    assert_eq!(now, expected, "old bytes in the chunks, new ones elsewhere");
    assert_ne!(now, new, "seed 11 stashes chunks of the big file");
    if chunks.iter().any(|c| c.path.ends_with("/meta")) {
        assert_eq!(fs::read(data.join("meta")).unwrap(), b"version 1");
    }
    let lines = restore_lines("n2", &out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("n2: {} stashed chunk(s)", chunks.len())),
        "{lines:?}"
    );

    // Cut short and removed: written back only within what is left.
    let wal = chunks.iter().find(|c| c.path.ends_with("/wal")).unwrap();
    let cut = wal.offset + wal.len / 2;
    fs::write(data.join("wal"), &new[..cut as usize]).unwrap();
    fs::remove_file(data.join("meta")).unwrap();
    let gone = Chunk {
        path: data.join("meta").to_str().unwrap().to_string(),
        offset: 0,
        len: 9,
    };
    let past_the_end = Chunk {
        path: wal.path.clone(),
        offset: cut + 10,
        len: 5,
    };
    let mut with_gone = chunks.clone();
    with_gone.extend([gone, past_the_end]);
    fs::write(stash.join(format!("chunks/{}", chunks.len())), b"version 1").unwrap();
    fs::write(stash.join(format!("chunks/{}", chunks.len() + 1)), b"12345").unwrap();
    let out = sh(&restore_script(&with_gone, stash_dir));
    assert!(
        !data.join("meta").exists(),
        "a file removed is not made again"
    );
    let now = fs::read(data.join("wal")).unwrap();
    assert_eq!(now.len() as u64, cut, "a file cut short is not made longer");
    let start = wal.offset as usize;
    assert_eq!(
        now[start..],
        old[start..cut as usize],
        "what is left of the chunk"
    );
    let lines = restore_lines("n2", &out);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("n2: shorter: {} is now {cut} bytes", wal.path))),
        "{lines:?}"
    );
    let nothing = format!(
        "is now {cut} bytes: 0 of the 5 bytes at {} written back",
        cut + 10
    );
    assert!(lines.iter().any(|l| l.ends_with(&nothing)), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("n2: gone: ")
            && l.ends_with("not written back (the file is not made again)")),
        "{lines:?}"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_snapshot_that_reads_short_fails_and_leaves_no_manifest() {
    let dir = scratch("short");
    let stash = dir.join("stash");
    let file = dir.join("data/f");
    fs::write(&file, b"0123456789").unwrap();
    let chunks = [Chunk {
        path: file.to_str().unwrap().to_string(),
        offset: 4,
        len: 20,
    }];
    let out = Command::new("sh")
        .args(["-c", &snapshot_script(&chunks, stash.to_str().unwrap())])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("read short of 20 bytes at 4 of"),
        "{out:?}"
    );
    assert!(!stash.join(MANIFEST).exists());
    let _ = fs::remove_dir_all(&dir);
}
