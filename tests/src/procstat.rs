//! This process's resident memory and open file descriptors, from `/proc/self` (Linux),
//! for the soak test's leak checks.

/// Resident set size in KiB (`VmRSS` in `/proc/self/status`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Open file descriptors (entries of `/proc/self/fd`, minus the one reading it).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count().saturating_sub(1)
}
