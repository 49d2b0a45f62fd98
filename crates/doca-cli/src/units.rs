//! docker/go-units: human sizes and durations as docker prints them.

pub use doca_engine::docker::{bytes_size, human_duration, human_size, human_size_prec};

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
