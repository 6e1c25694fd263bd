//! Plausible generated content for background traffic: real places along the
//! migration and smuggling corridors, ISO 6346 container numbers with valid
//! check digits, passport numbers in each country's style.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::model::{
    CaravanAlert, CargoNotice, Conveyance, DocumentFlag, DocumentKind, Holder, Kind, Ministry,
    Payload, Place, RecommendedAction, Timestamp,
};

/// (name, country, lat, lon) of places messages mention.
const PLACES: &[(&str, &str, f64, f64)] = &[
    ("San Pedro Sula", "HN", 15.504, -88.025),
    ("Tegucigalpa", "HN", 14.072, -87.192),
    ("Puerto Cortés", "HN", 15.848, -87.940),
    ("Choluteca", "HN", 13.300, -87.191),
    ("Ocotepeque", "HN", 14.436, -89.183),
    ("Corinto", "HN", 15.591, -88.402),
    ("Guatemala City", "GT", 14.634, -90.507),
    ("Agua Caliente", "GT", 14.564, -89.180),
    ("Tecún Umán", "GT", 14.676, -92.146),
    ("Esquipulas", "GT", 14.562, -89.350),
    ("Pedro de Alvarado", "GT", 13.791, -90.106),
    ("El Florido", "GT", 14.852, -89.160),
    ("Puerto Barrios", "GT", 15.727, -88.594),
    ("Puerto Quetzal", "GT", 13.922, -90.786),
    ("San Salvador", "SV", 13.692, -89.218),
    ("Acajutla", "SV", 13.592, -89.828),
    ("La Hachadura", "SV", 13.858, -90.089),
    ("El Amatillo", "SV", 13.597, -87.770),
    ("Anguiatú", "SV", 14.413, -89.412),
    ("Ciudad Hidalgo", "MX", 14.679, -92.150),
    ("Tapachula", "MX", 14.906, -92.263),
    ("Tenosique", "MX", 17.474, -91.423),
    ("Veracruz", "MX", 19.173, -96.134),
    ("Houston", "US", 29.760, -95.370),
    ("Miami", "US", 25.762, -80.192),
    ("Laredo", "US", 27.530, -99.480),
];

const GIVEN: &[&str] = &[
    "José", "María", "Juan", "Ana", "Carlos", "Rosa", "Luis", "Marta", "Jorge", "Gloria", "Miguel",
    "Sandra", "Óscar", "Karla", "Wilmer", "Yesenia", "Erick", "Dania",
];
const SURNAMES: &[&str] = &[
    "Hernández",
    "López",
    "Martínez",
    "García",
    "Rodríguez",
    "Pérez",
    "Flores",
    "Ramírez",
    "Cruz",
    "Reyes",
    "Mejía",
    "Aguilar",
    "Castillo",
    "Orellana",
    "Zelaya",
    "Girón",
];
const DOC_INDICATORS: &[&str] = &[
    "photo_substitution",
    "altered_biodata_page",
    "counterfeit_laminate",
    "missing_uv_features",
    "mismatched_mrz",
    "stolen_blank",
];
const CARGO_INDICATORS: &[&str] = &[
    "narcotics_concealment",
    "weight_discrepancy",
    "first_time_consignee",
    "scanner_density_anomaly",
    "undervaluation",
    "route_deviation",
    "seal_tampering",
];
/// Container owner codes (ISO 6346 owner code + category U).
const OWNERS: &[&str] = &[
    "MSCU", "MAEU", "CMAU", "HLXU", "SMLU", "CMCU", "TCLU", "SEGU",
];

fn places_in(country: &str) -> Vec<&'static (&'static str, &'static str, f64, f64)> {
    PLACES.iter().filter(|p| p.1 == country).collect()
}

fn place(p: &(&str, &str, f64, f64)) -> Place {
    Place {
        name: p.0.to_string(),
        country: p.1.to_string(),
        lat: Some(p.2),
        lon: Some(p.3),
    }
}

fn place_in(country: &str, rng: &mut ChaCha8Rng) -> Place {
    let options = places_in(country);
    place(
        options
            .choose(rng)
            .expect("every ministry's country has places"),
    )
}

/// Position on the northbound corridor, for transit countries.
fn corridor_rank(country: &str) -> u8 {
    match country {
        "HN" | "SV" => 0,
        "GT" => 1,
        "MX" => 2,
        _ => 3,
    }
}

/// The ISO 6346 check digit of a 10-character owner code + serial.
pub fn iso6346_check_digit(prefix: &str) -> Option<u32> {
    let mut sum = 0u32;
    for (i, c) in prefix.chars().enumerate() {
        let v = match c {
            '0'..='9' => c.to_digit(10)?,
            'A'..='Z' => {
                // A=10, skipping multiples of 11.
                let mut v = 10;
                for _ in 'A'..c {
                    v += 1;
                    if v % 11 == 0 {
                        v += 1;
                    }
                }
                v
            }
            _ => return None,
        };
        sum += v << i;
    }
    Some(sum % 11 % 10)
}

/// Generates one message of `kind` from `from` at `now`.
pub fn generate(
    kind: Kind,
    from: Ministry,
    now: Timestamp,
    n: usize,
    rng: &mut ChaCha8Rng,
) -> Payload {
    match kind {
        Kind::CaravanAlert => {
            let size: u32 = rng.random_range(40..=3000);
            let minors = size * rng.random_range(8..=30) / 100;
            let here = place_in(from.country(), rng);
            let heading_to = match corridor_rank(&here.country) {
                0 => vec!["Agua Caliente", "Tecún Umán", "Ciudad Hidalgo"],
                1 => vec!["Tecún Umán", "Ciudad Hidalgo"],
                2 => vec!["Tapachula", "Veracruz"],
                _ => vec![],
            };
            Payload::CaravanAlert(CaravanAlert {
                caravan_id: format!("CAR-G{n:05}"),
                location: here,
                estimated_size: Some(size),
                minors: Some(minors),
                heading_to: heading_to.into_iter().map(String::from).collect(),
                observed: Some(now),
            })
        }
        Kind::DocumentFlag => {
            let issuer = *["HN", "SV", "GT", "HN", "SV"]
                .choose(rng)
                .expect("non-empty");
            let number = match issuer {
                "HN" => format!("F{:07}", rng.random_range(0..10_000_000)),
                "SV" => format!("A{:08}", rng.random_range(0..100_000_000)),
                _ => format!("{:09}", rng.random_range(0..1_000_000_000)),
            };
            let kind = *[
                DocumentKind::Passport,
                DocumentKind::Passport,
                DocumentKind::Passport,
                DocumentKind::NationalId,
                DocumentKind::Visa,
            ]
            .choose(rng)
            .expect("non-empty");
            let n_indicators = rng.random_range(1..=2);
            let fraud_indicators = DOC_INDICATORS
                .choose_multiple(rng, n_indicators)
                .map(|s| s.to_string())
                .collect();
            let name = format!(
                "{} {} {}",
                GIVEN.choose(rng).expect("non-empty"),
                SURNAMES.choose(rng).expect("non-empty"),
                SURNAMES.choose(rng).expect("non-empty")
            );
            Payload::DocumentFlag(DocumentFlag {
                document_kind: kind,
                issuing_country: issuer.into(),
                document_number: number,
                holder: Holder {
                    name,
                    birth_date: format!(
                        "{}-{:02}-{:02}",
                        rng.random_range(1960..=2003),
                        rng.random_range(1..=12),
                        rng.random_range(1..=28)
                    ),
                    nationality: issuer.into(),
                },
                fraud_indicators,
                detected_at: place_in(from.country(), rng),
            })
        }
        Kind::CargoNotice => {
            let origin = place_in(from.country(), rng);
            let dest_country = *["MX", "US", "US", "GT", "SV", "HN"]
                .iter()
                .filter(|c| **c != origin.country)
                .collect::<Vec<_>>()
                .choose(rng)
                .expect("non-empty");
            let destination = place_in(dest_country, rng);
            let (lo, hi) = (corridor_rank(&origin.country), corridor_rank(dest_country));
            let by_sea = *dest_country == "US" && origin.name.starts_with("Puerto");
            let transit: Vec<String> = if by_sea || hi <= lo {
                vec![]
            } else {
                ["GT", "MX"]
                    .iter()
                    .filter(|c| {
                        let r = corridor_rank(c);
                        r > lo && r < hi
                    })
                    .map(|c| c.to_string())
                    .collect()
            };
            let owner = OWNERS.choose(rng).expect("non-empty");
            let prefix = format!("{owner}{:06}", rng.random_range(0..1_000_000));
            let check = iso6346_check_digit(&prefix).expect("prefix is ISO 6346 shaped");
            let risk: f64 = (rng.random_range(550..=990) as f64) / 1000.0;
            let n_indicators = rng.random_range(1..=3);
            Payload::CargoNotice(CargoNotice {
                container_id: format!("{prefix}{check}"),
                bill_of_lading: format!(
                    "{}{}-{:05}",
                    origin.country,
                    origin
                        .name
                        .chars()
                        .filter(|c| c.is_ascii_uppercase())
                        .collect::<String>(),
                    rng.random_range(0..100_000)
                ),
                conveyance: if by_sea {
                    Conveyance::Vessel
                } else {
                    Conveyance::Truck
                },
                origin,
                destination,
                transit_countries: transit,
                risk_score: risk,
                indicators: CARGO_INDICATORS
                    .choose_multiple(rng, n_indicators)
                    .map(|s| s.to_string())
                    .collect(),
                recommended_action: if risk >= 0.9 {
                    RecommendedAction::Hold
                } else if risk >= 0.75 {
                    RecommendedAction::Inspect
                } else {
                    RecommendedAction::Monitor
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn check_digits_match_the_standard() {
        // The standard's own example, and the corrected container of the example.
        assert_eq!(iso6346_check_digit("CSQU305438"), Some(3));
        assert_eq!(iso6346_check_digit("MSCU123456"), Some(6));
        assert_eq!(iso6346_check_digit("MSCU12345!"), None);
    }

    #[test]
    fn generated_messages_pass_the_hubs_validation() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for n in 0..300 {
            let kind = Kind::ALL[n % 3];
            let from = Ministry::DEFAULTS[n % 5];
            let payload = generate(kind, from, Timestamp(0), n, &mut rng);
            let env = crate::model::Envelope {
                status: crate::model::Status::Test,
                ..crate::model::Envelope::alert(format!("X-{n}"), from, Timestamp(0), payload)
            };
            assert_eq!(env.validate(Timestamp(0)), Ok(()), "{env:?}");
        }
    }
}
