//! docker/go-units: human sizes and durations as docker prints them.

/// go-units' `CustomSize`: `size` scaled by `base` until under it, `%.*g` and the unit.
fn custom_size(size: f64, base: f64, units: &[&str], precision: usize) -> String {
    let mut s = size;
    let mut i = 0;
    while s >= base && i < units.len() - 1 {
        s /= base;
        i += 1;
    }
    format!("{}{}", format_g(s, precision), units[i])
}

/// `units.HumanSizeWithPrecision(size, precision)`: decimal units, `%.*g`.
pub fn human_size_prec(size: f64, precision: usize) -> String {
    custom_size(size, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"], precision)
}

/// `units.HumanSize`: precision 4.
pub fn human_size(size: u64) -> String {
    human_size_prec(size as f64, 4)
}

/// `units.BytesSize`: binary units, precision 4 (`docker info`'s Total Memory).
pub fn bytes_size(size: u64) -> String {
    custom_size(size as f64, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"], 4)
}

/// Go's `%.*g` for the non-negative values sizes take.
fn format_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.log10().floor() as i32;
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let minutes = secs / 60;
    let hours = ((secs as f64) / 3600.0 + 0.5) as i64;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", secs / 3600 / 24 / 365)
    }
}

/// "2 weeks ago", or "N/A" for an unknown time, as docker's CreatedSince.
pub fn since(created_unix: i64, now: i64) -> String {
    if created_unix <= 0 {
        return "N/A".into();
    }
    format!("{} ago", human_duration(now - created_unix))
}

/// Go's `time.Unix(t, 0).String()` in UTC: "2023-11-14 22:13:20 +0000 UTC".
pub fn go_time(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => {
            format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000 UTC", t.year(), t.month() as u8, t.day(), t.hour(), t.minute(), t.second())
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size_prec(4_261_506.0, 3), "4.26MB");
        assert_eq!(human_size_prec(0.0, 3), "0B");
        assert_eq!(human_size_prec(1000.0, 3), "1kB");
        assert_eq!(human_size_prec(123_456.0, 3), "123kB");
        assert_eq!(human_size_prec(12_345_678.0, 3), "12.3MB");
        assert_eq!(human_size(4_261_506), "4.262MB");
        assert_eq!(human_size(512), "512B");
    }
    #[test]
    fn durations_like_go_units() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        assert_eq!(human_duration(15 * 86400), "2 weeks");
        assert_eq!(go_time(1_700_000_000), "2023-11-14 22:13:20 +0000 UTC");
    }
}
