//! Records the commit the binary is built from, for `etcd-autopsy --version`.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = std::env::var("ETCD_AUTOPSY_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .map(|s| if s.is_empty() { "" } else { "-dirty" })
        .unwrap_or("");
    println!("cargo:rustc-env=ETCD_AUTOPSY_COMMIT={commit}{dirty}");
    println!("cargo:rerun-if-env-changed=ETCD_AUTOPSY_COMMIT");
    // Rebuild when HEAD moves (a worktree's HEAD lives in its own git dir).
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
    }
}
