//! The benchmark's settings: sizes and levels from the environment (`BENCH_*`), or the tiny
//! sizes of `bench_smoke_tiny_n`.

use std::time::Duration;

use crate::setup::SetupSizes;

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) n: usize,
    pub(crate) seq: usize,
    pub(crate) idle: Duration,
    pub(crate) memory: Vec<usize>,
    pub(crate) client_concurrency: usize,
    pub(crate) controller_args: Vec<String>,
    /// Quiet time after convergence before the steady-state window opens.
    pub(crate) settle: Duration,
    pub(crate) emulator_creates: usize,
    pub(crate) emulator_gets: usize,
    pub(crate) emulator_levels: Vec<usize>,
    /// Part 6.
    pub(crate) setup: SetupSizes,
}

pub(crate) fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not valid")),
        Err(_) => default,
    }
}

impl Settings {
    pub(crate) fn from_env() -> Settings {
        let memory = std::env::var("BENCH_MEMORY_N").unwrap_or_else(|_| "1000,10000".into());
        let mut memory: Vec<usize> = memory
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("BENCH_MEMORY_N: comma-separated counts")
            })
            .collect();
        memory.sort_unstable();
        Settings {
            n: env_or("BENCH_N", 1000),
            seq: env_or("BENCH_SEQ", 200),
            idle: Duration::from_secs(env_or("BENCH_IDLE_SECS", 300)),
            memory,
            client_concurrency: env_or("BENCH_CLIENT_CONCURRENCY", 16),
            controller_args: std::env::var("BENCH_CONTROLLER_ARGS")
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
            settle: Duration::from_secs(10),
            emulator_creates: env_or("BENCH_EMULATOR_CREATES", 4_000),
            emulator_gets: env_or("BENCH_EMULATOR_GETS", 20_000),
            emulator_levels: std::env::var("BENCH_EMULATOR_LEVELS")
                .unwrap_or_else(|_| "1,8,64".into())
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse()
                        .ok()
                        .filter(|c| *c > 0)
                        .expect("BENCH_EMULATOR_LEVELS: comma-separated concurrencies")
                })
                .collect(),
            setup: SetupSizes::from_env(),
        }
    }

    pub(crate) fn tiny() -> Settings {
        Settings {
            n: 5,
            seq: 3,
            idle: Duration::from_secs(5),
            memory: vec![10],
            client_concurrency: 4,
            controller_args: Vec::new(),
            settle: Duration::from_secs(1),
            emulator_creates: 24,
            emulator_gets: 64,
            emulator_levels: vec![1, 8, 64],
            setup: SetupSizes {
                projects: 1,
                features: 2,
                segments: 1,
                launches: 4,
            },
        }
    }

    /// The environment settings that differ from the defaults, as `NAME=value` words.
    pub(crate) fn env_words() -> Vec<String> {
        [
            "BENCH_N",
            "BENCH_SEQ",
            "BENCH_IDLE_SECS",
            "BENCH_MEMORY_N",
            "BENCH_CLIENT_CONCURRENCY",
            "BENCH_CONTROLLER_ARGS",
            "BENCH_EMULATOR_CREATES",
            "BENCH_EMULATOR_GETS",
            "BENCH_EMULATOR_LEVELS",
            "BENCH_SETUP",
        ]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v:?}")))
        .collect()
    }
}
