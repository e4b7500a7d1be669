//! Run ids: every container, sidecar and journal line of a run carries one.
//!
//! `20261124-021100-3f9a`: the UTC start time, readable in `docker ps` and in
//! the journal, plus four hex digits so two runs started in the same second
//! (parallel tests) do not collide. Only `[a-z0-9-]`, because the id becomes
//! part of a compose project name, which compose lowercases and strips.

use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh run id.
pub fn new_run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // Not a cryptographic nonce: just enough to tell apart runs started in
    // the same second on one machine.
    let mix = (now.subsec_nanos() as u64 ^ (u64::from(std::process::id()) << 16)) as u32;
    let noise = mix.wrapping_mul(0x9e37_79b9) >> 16;
    format!("{}-{:04x}", utc_stamp(now.as_secs()), noise & 0xffff)
}

/// Is `id` usable as a run id (and so inside a compose project name)?
pub fn check_run_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "run id {id:?} is not usable: use 1-40 characters of a-z, 0-9 and '-', not starting with '-'"
        ))
    }
}

/// `YYYYMMDD-HHMMSS` in UTC for seconds since the epoch.
pub(crate) fn utc_stamp(secs: u64) -> String {
    let at = i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let t = utc(at);
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The UTC date and time of `at`. Formatted by hand where used: a few
/// fixed layouts do not need a strftime engine in the binary.
pub(crate) fn utc(at: jiff::Timestamp) -> jiff::civil::DateTime {
    jiff::tz::Offset::UTC.to_datetime(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_dates() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
        assert_eq!(utc_stamp(1_700_000_000), "20231114-221320");
    }

    #[test]
    fn fresh_ids_are_valid_and_checked() {
        let id = new_run_id();
        assert_eq!(check_run_id(&id), Ok(()), "{id}");
        assert_eq!(id.len(), 20, "{id}");
        assert!(check_run_id("Has_Upper").is_err());
        assert!(check_run_id("").is_err());
        assert!(check_run_id("-x").is_err());
    }
}
