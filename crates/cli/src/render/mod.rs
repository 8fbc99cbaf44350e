//! Everything the terminal shows: plans, progress, summaries. Pure functions over
//! values, so snapshot tests can pin them.

pub mod plan;
pub mod progress;
pub mod style;

/// `2m10s`, `12s`, `0.4s`.
pub fn elapsed(ms: u64) -> String {
    if ms < 1000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let secs = ms / 1000;
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{}h{}m", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn elapsed_reads_like_terraform() {
        assert_eq!(super::elapsed(400), "0.4s");
        assert_eq!(super::elapsed(12_000), "12s");
        assert_eq!(super::elapsed(130_000), "2m10s");
        assert_eq!(super::elapsed(3_720_000), "1h2m");
    }
}
