//! Durations and sizes as people type them: `90s`, `2m`, `500ms`, `1GiB`.

use std::time::Duration;

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(text);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 30s, 2m or 500ms)"))?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is not a usable duration"))
}

pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let (number, unit) = split_number(text);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 512MiB or 2GiB)"))?;
    let scale = match unit {
        "" | "B" => 1.0,
        "KiB" | "K" | "KB" => 1024.0,
        "MiB" | "M" | "MB" => 1024.0 * 1024.0,
        "GiB" | "G" | "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use KiB, MiB or GiB)"
            ))
        }
    };
    let bytes = n * scale;
    if !(bytes.is_finite() && bytes >= 0.0) {
        return Err(format!("{text:?} is not a usable size"));
    }
    Ok(bytes as usize)
}

fn split_number(text: &str) -> (&str, &str) {
    let text = text.trim();
    let at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    (&text[..at], text[at..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse_with_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
    }

    #[test]
    fn nonsense_is_refused_with_a_hint() {
        assert!(parse_duration("soon").unwrap_err().contains("try 30s"));
        assert!(parse_duration("3 fortnights")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_bytes("lots").unwrap_err().contains("512MiB"));
    }
}
