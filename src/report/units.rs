//! Times as a report shows them.

/// A duration in nanoseconds as people read it: `850µs`, `194.38ms`, `1.43s`.
pub fn duration(nanos: u64) -> String {
    match nanos {
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", trim(n as f64 / 1e3)),
        n if n < 1_000_000_000 => format!("{}ms", trim(n as f64 / 1e6)),
        n => format!("{}s", trim(n as f64 / 1e9)),
    }
}

/// A moment of the run, counted from its start: `+12.3s`.
pub fn offset(nanos: u64) -> String {
    format!("+{:.1}s", nanos as f64 / 1e9)
}

/// Two decimals, without trailing zeros: `194.38`, `1.4`, `3`.
fn trim(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_seed_reports() {
        assert_eq!(duration(194_380_000), "194.38ms");
        assert_eq!(duration(1_430_000_000), "1.43s");
        assert_eq!(duration(1_470_000_000), "1.47s");
        assert_eq!(duration(850_000), "850µs");
        assert_eq!(duration(999), "999ns");
        assert_eq!(duration(2_000_000_000), "2s");
        assert_eq!(offset(12_340_000_000), "+12.3s");
    }
}
