//! The table's columns: every field, the header spellings it answers to
//! (English and Spanish), and how a header is normalised; the delimiter.

use super::*;

/// A column an MSEL table may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Field {
    Number,
    Time,
    DateTime,
    From,
    To,
    Kind,
    Message,
    ExpectedAction,
    Objective,
    Id,
    Type,
    RefersTo,
    Handling,
    Expires,
    Payload,
}

impl Field {
    pub(super) const ALL: [Field; 15] = [
        Field::Number,
        Field::Time,
        Field::DateTime,
        Field::From,
        Field::To,
        Field::Kind,
        Field::Message,
        Field::ExpectedAction,
        Field::Objective,
        Field::Id,
        Field::Type,
        Field::RefersTo,
        Field::Handling,
        Field::Expires,
        Field::Payload,
    ];

    /// The canonical name, as [`export_csv`] writes it.
    pub(super) fn name(self) -> &'static str {
        COLUMNS[self as usize]
    }

    /// Header spellings, normalized (see [`normalize_header`]).
    pub(super) fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Number => &[
                "#",
                "no",
                "nr",
                "num",
                "number",
                "inject#",
                "injectno",
                "injectnumber",
                "msel#",
                "event#",
                "eventno",
                "eventnumber",
                "seq",
                // Spanish
                "n",
                "nº",
                "numero",
                "número",
            ],
            Field::Time => &[
                "time",
                "at",
                "scenariotime",
                "offset",
                "elapsed",
                "elapsedtime",
                "exercisetime",
                "hora",
                "tiempo",
                "tiempodelescenario",
                "horadelescenario",
            ],
            Field::DateTime => &[
                "datetime",
                "clock",
                "clocktime",
                "timestamp",
                "localtime",
                "fecha",
                "fechayhora",
                "fechahora",
            ],
            Field::From => &[
                "from",
                "sender",
                "originator",
                "source",
                "sentby",
                "de",
                "remitente",
                "emisor",
                "origen",
                "enviadopor",
            ],
            Field::To => &[
                "to",
                "recipients",
                "recipient",
                "receiver",
                "receivers",
                "sentto",
                "addressees",
                "para",
                "destinatario",
                "destinatarios",
                "receptor",
                "receptores",
            ],
            Field::Kind => &[
                "kind",
                "messagekind",
                "category",
                "messagecategory",
                "tipo",
                "tipodemensaje",
                "categoría",
                "categoria",
            ],
            Field::Message => &[
                "message",
                "inject",
                "description",
                "eventdescription",
                "messagetext",
                "injecttext",
                "injectdescription",
                "mensaje",
                "descripción",
                "descripcion",
                "evento",
                "descripcióndelevento",
                "descripciondelevento",
            ],
            Field::ExpectedAction => &[
                "expectedaction",
                "expectedactions",
                "expectedplayeraction",
                "expectedplayeractions",
                "expectedresponse",
                "expectedoutcome",
                "acciónesperada",
                "accionesperada",
                "accionesesperadas",
                "respuestaesperada",
            ],
            Field::Objective => &[
                "objective",
                "objectives",
                "corecapability",
                "corecapabilities",
                "exerciseobjective",
                "objetivo",
                "objetivos",
            ],
            Field::Id => &["id", "injectid", "label", "eventid"],
            Field::Type => &["type", "messagetype", "msgtype"],
            Field::RefersTo => &["refersto", "references", "reference", "ref"],
            Field::Handling => &["handling", "tlp", "tlplevel", "marking", "manejo"],
            Field::Expires => &["expires", "expiry", "expiresafter", "validfor"],
            Field::Payload => &["payload", "payloadjson", "content"],
        }
    }

    /// The spellings an error message suggests.
    pub(super) fn spellings(self) -> &'static str {
        match self {
            Field::Time => "time, at, scenario time, offset, hora (or a datetime column: fecha)",
            Field::From => "from, sender, originator, source, remitente",
            Field::Kind => "kind, message kind, category, tipo",
            Field::Message => {
                "message, inject, description, event description, message text, mensaje"
            }
            _ => self.name(),
        }
    }
}

/// Lower case, letters, digits and `#` only: `Recipient(s)` → `recipients`,
/// `Date/Time` → `datetime`, `Expected_Action` → `expectedaction`.
pub(super) fn normalize_header(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_alphanumeric() || *c == '#')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Lower-case letters and digits only.
pub(super) fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The delimiter of the header line: the most frequent of `,` `;` tab outside
/// quotes (`,` on a tie).
pub(super) fn sniff_delimiter(text: &str) -> u8 {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let mut best = (b',', counts[0]);
    for (d, n) in [(b';', counts[1]), (b'\t', counts[2])] {
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}
