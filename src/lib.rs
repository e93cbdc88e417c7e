//! launch-operator: reconciles `Project`, `Feature`, `Segment` and `Launch` resources against
//! CloudWatch Evidently, and emulates Evidently for clusters that have no AWS behind them.
//!
//! Module map:
//! * [`rules`] — the Evidently constraints, generated from the API model, plus cross-field rules;
//!   shared by the CRD schema, the controller, the `validate` command and the emulator.
//! * [`crd`] — the custom resources, their status and conditions, and CRD generation.
//! * [`kinds`] — what the reconcile pass needs to know of each kind (calls, diff, status).
//! * [`controller`] — the generic reconcile pass and its wiring (`launch-operator controller`).
//! * [`evidently`] — thin layer over `aws-sdk-evidently`: spec to request, response to status.
//! * [`emulator`] — the Evidently emulator (`launch-operator emulator`): router, handlers, store.
//! * [`pattern`] — Evidently's segment rule patterns: compile and match (emulator, tests).
//! * [`cli`] — command-line arguments of every subcommand.
//! * [`manifests`] — offline checking of manifest files (`launch-operator validate`).
//! * [`telemetry`] — logging setup; [`time`] and [`text`] — small shared helpers.

pub mod cli;
pub mod controller;
pub mod crd;
pub mod emulator;
pub mod evidently;
pub mod kinds;
pub mod manifests;
pub mod pattern;
pub mod rules;
pub mod telemetry;
pub mod text;
pub mod time;
