//! How numbers, sizes, durations and dates read in the tables.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::load::Latency;

/// What a cell shows when there is nothing to show.
pub(super) fn dash() -> String {
    "—".to_owned()
}

/// p50, p99 and max, or dashes when nothing was recorded.
pub(super) fn latency(l: &Latency) -> [String; 3] {
    if l.count == 0 {
        return [dash(), dash(), dash()];
    }
    [ms(l.p50_ms), ms(l.p99_ms), ms(l.max_ms)]
}

/// Three significant digits without trailing zeros: 1.23, 12.3, 123, 1.5, 2.
fn sig3(x: f64) -> String {
    let text = if x.abs() < 9.995 {
        format!("{x:.2}")
    } else if x.abs() < 99.95 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    };
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

/// A count or rate with k and M suffixes: 950, 812k, 1.23M.
pub fn si(x: f64) -> String {
    if x < 999.5 {
        format!("{x:.0}")
    } else if x < 999.5e3 {
        format!("{}k", sig3(x / 1e3))
    } else if x < 999.5e6 {
        format!("{}M", sig3(x / 1e6))
    } else {
        format!("{}G", sig3(x / 1e9))
    }
}

/// Per second: 812k/s.
pub fn rate(x: f64) -> String {
    format!("{}/s", si(x))
}

/// Milliseconds: 0.94 ms, 12.3 ms.
pub fn ms(x: f64) -> String {
    format!("{} ms", sig3(x))
}

/// Bytes as kilobytes (1000 bytes): 9.8 KB.
pub fn kb(bytes: f64) -> String {
    let k = bytes / 1e3;
    if k.abs() < 99.95 { format!("{k:.1} KB") } else { format!("{k:.0} KB") }
}

/// Bytes as megabytes (10^6 bytes): 12.3 MB.
pub fn mb(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1e6)
}

/// A percentage: 87%.
pub fn pct(x: f64) -> String {
    format!("{x:.0}%")
}

/// A percentage, or a dash when unknown.
pub(super) fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(dash, pct)
}

/// A quotient: 4.2×, 0.83×.
pub fn ratio(x: f64) -> String {
    if x < 10.0 { format!("{x:.2}×") } else { format!("{x:.0}×") }
}

/// An integer with thousands separators: 12,345.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A wall-clock duration: 42 s, 23 min.
pub(super) fn duration(secs: f64) -> String {
    if secs < 90.0 { format!("{secs:.0} s") } else { format!("{:.0} min", secs / 60.0) }
}

/// A time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_date(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn numbers_are_formatted_readably() {
        assert_eq!(rate(1_234_000.0), "1.23M/s");
        assert_eq!(rate(812_000.0), "812k/s");
        assert_eq!(rate(1_500_000.0), "1.5M/s");
        assert_eq!(rate(200_000.0), "200k/s");
        assert_eq!(rate(999_700.0), "1M/s");
        assert_eq!(rate(12_345.0), "12.3k/s");
        assert_eq!(rate(950.4), "950/s");
        assert_eq!(kb(9_800.0), "9.8 KB");
        assert_eq!(kb(123_456.0), "123 KB");
        assert_eq!(mb(12_345_678.0), "12.3 MB");
        assert_eq!(ms(0.938), "0.94 ms");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(2.0), "2 ms");
        assert_eq!(ms(9.999), "10 ms");
        assert_eq!(pct(87.4), "87%");
        assert_eq!(ratio(4.166), "4.17×");
        assert_eq!(ratio(0.8333), "0.83×");
        assert_eq!(ratio(12.4), "12×");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        assert_eq!(utc(UNIX_EPOCH + Duration::from_secs(1_700_000_000)), "2023-11-14 22:13 UTC");
        assert_eq!(utc(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29 00:00 UTC");
    }
}
