//! # ingest-lab: what batching buys, measured
//!
//! A small, syscall-level batching ingest pipeline and the instruments to prove what batching does.
//!
//! ```text
//!  open-loop load ──push──▶ BoundedQueue ──pop_batch──▶ BatchWindow ─flush─▶ FileSink
//!  (each item stamped        (capacity +               (max items,         one write(2) +
//!   with its *intended*       OverflowPolicy)           max bytes,          one fdatasync(2)
//!   send time)                                          linger)             per batch, counted)
//! ```
//!
//! **Why batch.** Making data durable costs a fixed price per `fdatasync` (a device cache flush and a
//! journal commit: ~0.2 ms on a good SSD, milliseconds on a busy one) plus a small price per byte. One
//! item per fdatasync caps a writer at a few thousand items/s whatever the item size; a batch of N items
//! pays the fixed price once, so items/s grows ~N× until bandwidth bounds it.
//!
//! **What it costs.** An item waits for its batch to fill or its linger to expire, then for the
//! fdatasync. The window bounds that wait: a batch is flushed at `max_items`, at `max_bytes`, or when its
//! first item has waited `linger` — whichever comes first — so at peak load batches are full and at low
//! load the timer bounds latency.
//!
//! **How it is measured.** Latency runs from each item's *intended* send time on an open-loop schedule to
//! the return of the fdatasync that made it durable; a stall anywhere (the disk, the batcher, the
//! generator, a `SIGSTOP`) shows up in p99 and max. Syscalls are counted by the sink where it makes them.
//!
//! Layout: [`batch::BatchWindow`] is pure (told sizes and times, it answers when to flush);
//! [`queue::BoundedQueue`] hands back what it refuses; every durable byte goes through [`storage`] (segments, the DLQ, the
//! spill); `pipeline` runs the generator and batcher threads; `ingest` and `redrive` are producers
//! that feed it; `checks` turn claims into verdicts with evidence — a timing claim is a decision
//! ([`stats`]: the median of repeated runs and its interval, holds / fails / inconclusive), never one
//! run's figure against a threshold. Layers, from the bottom —
//! core, storage, observation, config, pipeline, producers, checks, report — are enforced by
//! `tests/imports_follow_the_layers.rs`. Every public name has one path, its module's
//! (`ingest_lab::queue::BoundedQueue`, `ingest_lab::pipeline::run`): the root re-exports nothing, so a
//! name says which layer it belongs to.

// Raw syscalls live in one module (`signals`: async-signal handlers); everything else uses std or nix.
#![deny(unsafe_code)]

pub mod batch;
pub mod checks;
pub mod clock;
pub mod codec;
pub mod config;
pub mod control;
pub mod counters;
pub mod crashsim;
pub mod error;
pub mod flush;
pub mod host;
pub mod ingest;
pub mod item;
pub mod load;
pub mod metrics;
pub mod payload;
pub mod pipeline;
pub mod progress;
pub mod prometheus;
pub mod queue;
pub mod redrive;
pub mod report;
pub mod retry;
pub mod rng;
#[allow(unsafe_code)]
pub mod signals;
pub mod sink;
pub mod stats;
pub mod storage;
pub mod summary;
#[cfg(test)]
mod testutil;
