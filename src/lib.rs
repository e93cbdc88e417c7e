//! launch-operator: reconciles `Launch` resources against CloudWatch Evidently.
//!
//! Module map:
//! * [`rules`] — the Evidently constraints, generated from the API model, plus cross-field rules;
//!   shared by the CRD schema, the controller, the `validate` command and the emulator.
//! * [`crd`] — the `Launch` custom resource, its status and conditions, and CRD generation.
//! * [`cli`] — command-line arguments of every subcommand.
//! * [`manifests`] — offline checking of manifest files (`launch-operator validate`).

pub mod cli;
pub mod crd;
pub mod manifests;
pub mod rules;
