//! Thin layer over `aws-sdk-evidently`. Under construction.
