//! Envelope validation, wire to model: any bytes are refused by the protobuf
//! decoder, by the conversion to the model (`WireError`) or by
//! `Envelope::validate` (`Invalid`, INVALID_ARGUMENT at the hub), or accepted;
//! never a panic. An accepted envelope survives model → wire → bytes → wire
//! → model unchanged.
#![no_main]

use gcif_sim::model::{Envelope, Timestamp};
use gcif_sim::wire::pb;
use libfuzzer_sys::fuzz_target;
use prost::Message;

/// The hub's clock: 2019-01-15T11:00:00Z, the shipped scenarios' day.
const NOW: Timestamp = Timestamp(1_547_550_000_000);

fuzz_target!(|data: &[u8]| {
    let Ok(wire) = pb::Envelope::decode(data) else {
        return;
    };
    let Ok(env) = Envelope::try_from(wire) else {
        return;
    };
    // Against a fixed clock, and against the envelope's own `created` (a hub
    // whose clock agrees with the sender's).
    let valid = [NOW, env.created]
        .into_iter()
        .map(|now| env.validate(now))
        .any(|r| r.is_ok());
    if !valid {
        return;
    }
    let bytes = pb::Envelope::from(&env).encode_to_vec();
    let wire = pb::Envelope::decode(bytes.as_slice()).expect("a re-encoded envelope decodes");
    let back = Envelope::try_from(wire).expect("a re-encoded envelope converts");
    assert_eq!(back, env, "the envelope did not survive the round trip");
});
