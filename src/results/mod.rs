//! The results folder of one run, `results/<test>/<UTC time>/`: where it
//! goes, what it holds (`meta`: `test.json`), and how its verdict and reports
//! are made from it (`analyse`); and the index of all the runs in a results
//! folder (`index`).

pub mod analyse;
pub mod index;
pub mod meta;

use std::path::{Path, PathBuf};

pub use analyse::{analyse, Outcome, Verdict};
pub use meta::TestMeta;

use crate::error::Failure;

/// Creates `root/<test>/<stamp>/` (with `-2`, `-3`... if taken) and points
/// `root/latest` at it.
pub fn create(root: &Path, test: &str, stamp: &str) -> Result<PathBuf, Failure> {
    let mut dir = root.join(test).join(stamp);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = root.join(test).join(format!("{stamp}-{n}"));
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failure::Harness(format!(
            "cannot create {}: {e}; pass --results with a writable folder",
            dir.display()
        ))
    })?;
    let latest = root.join("latest");
    let _ = std::fs::remove_file(&latest);
    if let Ok(relative) = dir.strip_prefix(root) {
        let _ = std::os::unix::fs::symlink(relative, &latest);
    }
    Ok(dir)
}
