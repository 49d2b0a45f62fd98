//! docker/go-units: human sizes and durations as docker prints them (the CLI's columns, the
//! API's Status strings and progress bars).

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

/// go-units' HumanDuration, as docker's Status and "N minutes ago" columns word a duration.
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
