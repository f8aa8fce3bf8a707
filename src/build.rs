//! Compiles a configuration into the binary: Lambda@Edge has no environment
//! variables, so `HLS_EDGE_CONFIG=path/to/config.json cargo build` embeds that
//! file (see `src/config.rs`). Without it the embedded configuration is `{}`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=HLS_EDGE_CONFIG");
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("compiled-config.json");
    let json = match std::env::var_os("HLS_EDGE_CONFIG") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(&path).display());
            std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("HLS_EDGE_CONFIG={}: {e}", PathBuf::from(&path).display())
            })
        }
        None => "{}".to_owned(),
    };
    std::fs::write(out, json).expect("write compiled-config.json");
}
