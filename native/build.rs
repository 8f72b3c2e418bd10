// Links UCX (libucp, libucs) and libpmem2 from the system (Debian: libucx-dev,
// libpmem2-dev, installed by scripts/setup.sh) and generates their Rust
// declarations with bindgen, so struct layouts always match the installed headers.
use std::env;
use std::path::PathBuf;

fn main() {
    napi_build::setup();
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rustc-link-lib=ucp");
    println!("cargo:rustc-link-lib=ucs");
    println!("cargo:rustc-link-lib=pmem2");
    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .allowlist_function("ucp_.*|ucs_status_string|pmem2_.*")
        .allowlist_type("ucp_.*|ucs_.*|pmem2_.*")
        .allowlist_var("UCP_.*|UCS_.*|PMEM2_.*")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .derive_default(true)
        .layout_tests(false)
        .generate()
        .expect("bindgen failed on wrapper.h (are libucx-dev and libpmem2-dev installed? run scripts/setup.sh)");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    bindings.write_to_file(out.join("sys.rs")).expect("write sys.rs");
}
