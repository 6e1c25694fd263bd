//! Compiles the wire contract in `proto/` with protox (a protobuf compiler in
//! Rust), so building needs no `protoc` on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/gcif/v1/gcif.proto"];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(protos, ["proto"])?;
    // The encoded descriptors, for the gRPC reflection service.
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("gcif_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    // Default stubs: a service may leave an optional method (such as
    // `Ministry.DeliverStream`) unimplemented; it then answers UNIMPLEMENTED.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    // The echo service of the live benchmark's raw tonic baselines
    // (benches/live.rs); no other target includes it.
    println!("cargo:rerun-if-changed=benches/echo.proto");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(protox::compile(["benches/echo.proto"], ["benches"])?)?;
    Ok(())
}
