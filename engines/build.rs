//! Looks for `redis-server` on PATH so the Redis tests know whether they can
//! run: with it, `cfg(redis_server)` is set; without it, those tests are
//! ignored with the reason (never counted as passed).

use std::path::Path;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(redis_server)");
    println!("cargo:rerun-if-env-changed=PATH");
    // Where a package manager installs it: an install there re-runs this script.
    for dir in ["/usr/bin", "/usr/local/bin"] {
        if Path::new(dir).is_dir() {
            println!("cargo:rerun-if-changed={dir}");
        }
    }
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| is_executable(&dir.join("redis-server")))
    });
    if found {
        println!("cargo:rustc-cfg=redis_server");
    }
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}
