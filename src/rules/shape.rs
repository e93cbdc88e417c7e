//! The vocabulary of the generated API-model table (`model.rs`): shapes, members, constraints
//! and operations, as plain `'static` data.
//!
//! Nothing here knows about Kubernetes or HTTP; the validator (`walk.rs`) and the CRD schema
//! generator (`crate::crd::schema`) both read these tables.

/// Lower and upper bounds of a `@length` or `@range` trait; either side may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// The constraint traits the model puts on a shape or on a member (a member's own traits
/// override its target's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Constraints {
    /// String length in characters, or list/map size.
    pub length: Option<Bounds>,
    /// Numeric range.
    pub range: Option<Bounds>,
    /// ECMA-262 regular expression a string must contain a match of (Smithy patterns are not
    /// implicitly anchored).
    pub pattern: Option<&'static str>,
    /// Allowed values of an enum-like string.
    pub enum_values: &'static [&'static str],
}

impl Constraints {
    pub const NONE: Constraints = Constraints {
        length: None,
        range: None,
        pattern: None,
        enum_values: &[],
    };

    /// The member's own traits where it has them, its target's otherwise.
    pub fn overridden_by(&self, member: &Constraints) -> Constraints {
        Constraints {
            length: member.length.or(self.length),
            range: member.range.or(self.range),
            pattern: member.pattern.or(self.pattern),
            enum_values: if member.enum_values.is_empty() {
                self.enum_values
            } else {
                member.enum_values
            },
        }
    }
}

/// Where a member travels on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Body,
    /// A `{label}` of the URI.
    Label,
    /// A query-string parameter with this name.
    Query(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// JSON key, exactly as in the model (camelCase).
    pub name: &'static str,
    /// Name of the target shape in [`super::model::SHAPES`].
    pub target: &'static str,
    pub required: bool,
    pub location: Location,
    pub constraints: Constraints,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Long,
    Double,
    Boolean,
    Timestamp,
    Blob,
    Document,
    List {
        member: &'static str,
    },
    Map {
        key: &'static str,
        value: &'static str,
    },
    Structure {
        members: &'static [Member],
    },
    Union {
        members: &'static [Member],
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub name: &'static str,
    pub kind: Kind,
    pub constraints: Constraints,
}

/// One operation of the service: its HTTP binding and input shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    pub method: &'static str,
    pub uri: &'static str,
    pub code: u16,
    pub input: &'static str,
    pub errors: &'static [&'static str],
}
