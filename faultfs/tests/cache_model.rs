//! The write cache against a model: random writes, truncates, fsyncs and
//! reads on a few files, then a drop. Throughout, every read equals the
//! model's current bytes; after the drop, every file (as read and as on
//! the backing "disk") equals the model's bytes at its last fsync.

use chaos_faultfs::cache::{Cache, MemBacking};
use proptest::prelude::*;

const FILES: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Write {
        file: usize,
        offset: u64,
        data: Vec<u8>,
    },
    Truncate {
        file: usize,
        size: u64,
    },
    Fsync {
        file: usize,
    },
    Read {
        file: usize,
        offset: u64,
        len: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let file = 0..FILES;
    prop_oneof![
        4 => (file.clone(), 0..300u64, prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(file, offset, data)| Op::Write { file, offset, data }),
        2 => (file.clone(), 0..350u64).prop_map(|(file, size)| Op::Truncate { file, size }),
        1 => file.clone().prop_map(|file| Op::Fsync { file }),
        2 => (file, 0..400u64, 0..200usize).prop_map(|(file, offset, len)| Op::Read { file, offset, len }),
    ]
}

/// pwrite on the model (an empty write changes nothing, even past the
/// end).
fn model_write(model: &mut Vec<u8>, offset: u64, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let end = offset as usize + data.len();
    if model.len() < end {
        model.resize(end, 0);
    }
    model[offset as usize..end].copy_from_slice(data);
}

/// What a reader sees: the cache over the backing file.
fn read(
    cache: &Cache<MemBacking>,
    ino: u64,
    disk: &MemBacking,
    offset: u64,
    len: usize,
) -> Vec<u8> {
    match cache.read(ino, offset, len) {
        Some(data) => data.unwrap(),
        None => {
            let content = disk.content();
            let from = (offset as usize).min(content.len());
            let to = (from + len).min(content.len());
            content[from..to].to_vec()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_drop_leaves_the_last_synced_state(
        initial in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..100), FILES),
        ops in prop::collection::vec(op(), 0..60),
    ) {
        let disks: Vec<MemBacking> = initial.iter().map(|c| MemBacking::new(c)).collect();
        let mut current = initial.clone();
        let mut synced = initial.clone();
        let mut cache = Cache::new(u64::MAX);
        let ino = |file: usize| file as u64 + 100;
        for op in &ops {
            match op {
                Op::Write { file, offset, data } => {
                    let disk = disks[*file].clone();
                    cache.write(ino(*file), *offset, data, || Ok(disk)).unwrap();
                    model_write(&mut current[*file], *offset, data);
                }
                Op::Truncate { file, size } => {
                    let disk = disks[*file].clone();
                    cache.set_len(ino(*file), *size, || Ok(disk)).unwrap();
                    current[*file].resize(*size as usize, 0);
                }
                Op::Fsync { file } => {
                    cache.sync(ino(*file), true).unwrap();
                    synced[*file] = current[*file].clone();
                }
                Op::Read { file, offset, len } => {
                    let got = read(&cache, ino(*file), &disks[*file], *offset, *len);
                    let model = &current[*file];
                    let from = (*offset as usize).min(model.len());
                    let to = (from + len).min(model.len());
                    prop_assert_eq!(got, model[from..to].to_vec(), "read of file {} after {:?}", file, ops);
                }
            }
        }
        for file in 0..FILES {
            let size = cache.size(ino(file)).unwrap_or(disks[file].content().len() as u64);
            prop_assert_eq!(size, current[file].len() as u64, "size of file {} before the drop", file);
        }
        cache.drop_unsynced();
        prop_assert_eq!(cache.unsynced_bytes(), 0);
        for file in 0..FILES {
            prop_assert_eq!(&disks[file].content(), &synced[file], "disk of file {}", file);
            let seen = read(&cache, ino(file), &disks[file], 0, usize::MAX >> 1);
            prop_assert_eq!(&seen, &synced[file], "file {} as read after the drop", file);
        }
    }

    /// A cache that must write back (a tiny limit) never loses a byte
    /// that was fsync'd and always reads what was written.
    #[test]
    fn write_back_under_pressure_keeps_reads_right(
        ops in prop::collection::vec(op(), 0..60),
        limit in 1..200u64,
    ) {
        let disks: Vec<MemBacking> = (0..FILES).map(|_| MemBacking::default()).collect();
        let mut current = vec![Vec::new(); FILES];
        let mut cache = Cache::new(limit);
        let ino = |file: usize| file as u64 + 100;
        for op in &ops {
            match op {
                Op::Write { file, offset, data } => {
                    let disk = disks[*file].clone();
                    cache.write(ino(*file), *offset, data, || Ok(disk)).unwrap();
                    model_write(&mut current[*file], *offset, data);
                }
                Op::Truncate { file, size } => {
                    let disk = disks[*file].clone();
                    cache.set_len(ino(*file), *size, || Ok(disk)).unwrap();
                    current[*file].resize(*size as usize, 0);
                }
                Op::Fsync { file } => {
                    cache.sync(ino(*file), false).unwrap();
                    prop_assert_eq!(&disks[*file].content(), &current[*file]);
                }
                Op::Read { file, offset, len } => {
                    let got = read(&cache, ino(*file), &disks[*file], *offset, *len);
                    let model = &current[*file];
                    let from = (*offset as usize).min(model.len());
                    let to = (from + len).min(model.len());
                    prop_assert_eq!(got, model[from..to].to_vec());
                }
            }
            // A single write may exceed the limit; otherwise it holds.
            let biggest = ops.iter().map(|o| match o { Op::Write { data, .. } => data.len() as u64, _ => 0 }).max().unwrap_or(0);
            prop_assert!(cache.unsynced_bytes() <= limit.max(biggest));
        }
    }
}
