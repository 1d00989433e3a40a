//! Memory figures from Linux's procfs, for the run summary and the benches.

/// The value, in KiB, of the `NAME:  N kB` line called `field` (e.g.
/// `"VmHWM:"`) of a procfs file such as `/proc/self/status` or
/// `/proc/self/smaps_rollup`; `None` where procfs or the line is missing.
pub fn kib(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process_status() {
        assert!(super::kib("/proc/self/status", "VmHWM:").is_some_and(|k| k > 0));
        assert_eq!(super::kib("/proc/self/status", "NoSuchField:"), None);
        assert_eq!(super::kib("/proc/no-such-file", "VmHWM:"), None);
    }
}
